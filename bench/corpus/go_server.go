// A throttled request loop in Go for the recorded leak corpus (see README.md): per-request
// map/string/JSON/[]byte garbage, and the workloads chosen by key=value arguments common to the
// corpus: a lazily filled LRU cache (map + container/list), a TTL session map, load cycles, and a
// late leak kept in goroutines blocked forever on a channel, each holding its requests' contexts
// (leak_kind=goroutine), or in a package-level slice (leak_kind=slice).
package main

import (
	"container/list"
	"encoding/json"
	"fmt"
	"math"
	"math/rand"
	"os"
	"strconv"
	"strings"
	"time"
)

var o = map[string]float64{"rate": 200, "cycle": 0, "amp": 0.6, "lru": 0, "lru_kb": 4, "fill": 1,
	"ttl": 0, "sess_kb": 4, "sess_frac": 1, "leak_start": 0, "leak_bytes": 0}
var leakKind = "slice"

const alpha = "abcdefghijklmnopqrstuvwxyz0123456789"

type Item struct {
	ID    int     `json:"id"`
	Name  string  `json:"name"`
	Value float64 `json:"value"`
}

type Context struct {
	ID    int
	At    time.Time
	User  string
	Trail []*Item
}

type entry struct {
	key  int
	data []*Item
}

type session struct {
	id      int
	expires time.Time
	data    []*Item
}

var (
	audit   []*Context       // leak_kind=slice: never truncated
	pending []*Context       // leak_kind=goroutine: handed to the next stuck goroutine
	never   = make(chan int) // nobody ever sends on it
	sink    int
)

func randStr(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alpha[rand.Intn(len(alpha))]
	}
	return string(b)
}

// About `bytes` as small structs (~100 bytes each), the shape of a parsed row.
func makeRecord(bytes float64) []*Item {
	items := make([]*Item, 0, int(bytes/100))
	for i := 0; i < int(bytes/100); i++ {
		items = append(items, &Item{i, randStr(16), rand.Float64()})
	}
	return items
}

func main() {
	for _, a := range os.Args[1:] {
		kv := strings.SplitN(a, "=", 2)
		if kv[0] == "leak_kind" {
			leakKind = kv[1]
			continue
		}
		if _, ok := o[kv[0]]; !ok {
			fmt.Fprintln(os.Stderr, "unknown argument", kv[0])
			os.Exit(2)
		}
		o[kv[0]], _ = strconv.ParseFloat(kv[1], 64)
	}
	lruList := list.New()
	lruMap := map[int]*list.Element{}
	var sessions []*session // in expiry order
	start := time.Now()
	last := start
	due := 0.0
	seq := 0
	for {
		now := time.Now()
		t := now.Sub(start).Seconds()
		r := o["rate"]
		if o["cycle"] > 0 {
			r *= 1 + o["amp"]*math.Sin(2*math.Pi*t/o["cycle"])
		}
		due = math.Min(due+r*now.Sub(last).Seconds(), r)
		last = now
		for ; due >= 1; due-- {
			seq++
			headers := map[string]string{}
			for i := 0; i < 20; i++ {
				headers["x-h"+strconv.Itoa(i)] = randStr(24)
			}
			raw, _ := json.Marshal(map[string]interface{}{"id": seq, "headers": headers, "items": makeRecord(2000)})
			var body struct{ Items []Item }
			json.Unmarshal(raw, &body)
			var page strings.Builder
			for _, it := range body.Items {
				fmt.Fprintf(&page, "<tr><td>%s</td><td>%g</td></tr>", it.Name, it.Value)
			}
			buf := []byte(page.String())
			sink += len(buf)
			if o["lru"] > 0 {
				if lruList.Len() > 0 {
					if e, ok := lruMap[rand.Intn(lruList.Len())]; ok {
						lruList.MoveToFront(e)
						sink += len(e.Value.(*entry).data)
					}
				}
				if rand.Float64() < o["lru"]/(o["fill"]*o["rate"]) {
					key := lruList.Len()
					if float64(lruList.Len()) >= o["lru"] {
						old := lruList.Back()
						lruList.Remove(old)
						key = old.Value.(*entry).key
						delete(lruMap, key)
					}
					lruMap[key] = lruList.PushFront(&entry{key, makeRecord(o["lru_kb"] * 1024)})
				}
			}
			if o["ttl"] > 0 && rand.Float64() < o["sess_frac"] {
				sessions = append(sessions, &session{seq, now.Add(time.Duration(o["ttl"] * 1e9)), makeRecord(o["sess_kb"] * 1024)})
			}
			if o["leak_bytes"] > 0 && t >= o["leak_start"] {
				ctx := &Context{seq, now, randStr(12), makeRecord(o["leak_bytes"])}
				if leakKind == "goroutine" {
					pending = append(pending, ctx)
					if len(pending) == 10 {
						held := pending
						pending = nil
						// The contexts are read after the receive, so the goroutine keeps
						// them reachable (a captured length alone would let them go).
						go func() {
							<-never
							for _, c := range held {
								sink += c.ID + len(c.Trail)
							}
						}()
					}
				} else {
					audit = append(audit, ctx)
				}
			}
		}
		for len(sessions) > 0 && !sessions[0].expires.After(now) {
			sessions[0] = nil
			sessions = sessions[1:]
		}
		time.Sleep(10 * time.Millisecond)
	}
}
