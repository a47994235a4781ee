// A Go worker that leaks from rememberInvoice among much larger churn, with net/http/pprof on
// $PPROF_ADDR, for memvisor's Go heap sample tests. With LEAK=helper the leak is
// cacheGreeting's, through strings.Repeat; LEAK=slow leaks a tenth as fast; LEAK=0 only churns.
package main

import (
	"fmt"
	"log"
	"net/http"
	_ "net/http/pprof"
	"os"
	"strconv"
	"strings"
	"time"
)

type Invoice struct {
	ID    int
	Lines []string
}

var archive []*Invoice
var sink [][]byte

// rememberInvoice keeps every invoice forever: the leak.
func rememberInvoice(id int) {
	lines := make([]string, 0, 512) // leaked with its invoice: 8 KiB
	archive = append(archive, &Invoice{ID: id, Lines: lines})
}

var greetings = map[int]string{}

// cacheGreeting leaks through the standard library: strings.Repeat allocates what the map keeps.
func cacheGreeting(id int) {
	greetings[id] = strings.Repeat("hello ", 1024+id%3)
}

// churn allocates far more than the leak and lets it go.
func churn(round int) int {
	total := 0
	sink = sink[:0]
	for i := 0; i < 16; i++ {
		buf := make([]byte, 16384)
		sink = append(sink, buf)
		total += len(strings.Repeat("x", 64+round%7)) + len(buf)
	}
	return total
}

func main() {
	// net/http/pprof's own idiom: a replacement started while the old process still holds the
	// port (a surge recycle) runs on without the endpoint.
	go func() { log.Println(http.ListenAndServe(os.Getenv("PPROF_ADDR"), nil)) }()
	leak := os.Getenv("LEAK")
	// ROUNDS=N: a fixed amount of work without pauses, then exit (the benchmark's CPU measure).
	rounds, _ := strconv.Atoi(os.Getenv("ROUNDS"))
	fmt.Println("worker started")
	for n := 0; rounds == 0 || n < rounds; n++ {
		for i := 0; i < 10; i++ {
			switch leak {
			case "0":
			case "slow": // one invoice per pass: 400 KiB/s, for the leak rule's minutes
				if i == 0 {
					rememberInvoice(n)
				}
			case "helper":
				cacheGreeting(n*10 + i)
			default:
				rememberInvoice(n*10 + i)
			}
			churn(n)
		}
		if rounds == 0 {
			time.Sleep(20 * time.Millisecond)
		}
	}
}
