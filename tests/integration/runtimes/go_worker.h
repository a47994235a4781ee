// The Go test worker (tests/runtimes/go/leaky.go): built with the Go toolchain into a test's temp
// dir, run under memvisor with its net/http/pprof on a free loopback port.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <string>

#include "harness.h"

namespace memvisor::testing {

// tests/runtimes/go/leaky.go built into `dir`; "" when there is no Go toolchain.
inline std::string build_leaky_go(const TempDir& dir) {
  if (!have_program("go")) return "";
  // The build cache outlives the run: the standard library compiles once per machine.
  const std::string cache = "/tmp/memvisor-test-gocache-" + std::to_string(::getuid());
  const std::string out = dir.file("leaky-go");
  const std::string command = "cd /tmp && HOME=" + cache + " GOCACHE=" + cache +
                              " GO111MODULE=off go build -o " + out + " " +
                              source_path("tests/runtimes/go/leaky.go") + " 2>&1";
  return std::system(command.c_str()) == 0 ? out : "";
}

// The 1-based number of the line of leaky.go holding `marker`.
inline int leaky_go_line(const std::string& marker) {
  return line_of(source_path("tests/runtimes/go/leaky.go"), marker);
}

// Waits for the pprof endpoint to answer (the program starts serving at once).
inline bool pprof_answers(int port) {
  return eventually(
      [&] {
        const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_port = htons(static_cast<uint16_t>(port));
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
        ::close(fd);
        return ok;
      },
      10s);
}

// A config with one service "api" running `binary` (LEAK = `leak`: "1", "helper", "slow" or "0"),
// heap_sampler on and its pprof named; `extra` is appended to the service's table.
inline std::string go_config(const TempDir& dir, const std::string& binary, int port,
                             const std::string& leak, const std::string& extra = "") {
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  return dir.write("go.toml", "[service.api]\ncommand = [\"" + binary +
                                  "\"]\nheap_sampler = true\npprof = \"" + url +
                                  "\"\nenv = { PPROF_ADDR = \"127.0.0.1:" + std::to_string(port) +
                                  "\", LEAK = \"" + leak + "\" }\n" + extra);
}

}  // namespace memvisor::testing
