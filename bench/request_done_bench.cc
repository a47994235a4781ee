// The cost of counting a request with the worker library, on the worker's own thread: with the
// library a no-op (no MEMVISOR_SOCKET) and connected to a listening socket that reads the counts.
#include <benchmark/benchmark.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>

#include "memvisor/worker.h"

namespace {

// A reader for the worker's connection, so the library really sends its batched totals.
void serve(int listener) {
  const int fd = ::accept(listener, nullptr, nullptr);
  char buffer[65536];
  while (::read(fd, buffer, sizeof buffer) > 0) {
  }
}

void BM_RequestDoneConnected(benchmark::State& state) {
  for (auto _ : state) mv_request_done();
  state.SetItemsProcessed(state.iterations());
}

}  // namespace

int main(int argc, char** argv) {
  // Connected: a socket in /tmp with a thread reading whatever the library sends.
  const std::string path = "/tmp/mv-bench-" + std::to_string(::getpid()) + ".sock";
  const int listener = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  if (::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listener, 1) != 0) {
    return 1;
  }
  std::thread(serve, listener).detach();
  ::setenv("MEMVISOR_SOCKET", path.c_str(), 1);
  mv_init();
  benchmark::RegisterBenchmark("mv_request_done/connected", BM_RequestDoneConnected)
      ->Threads(1)
      ->Threads(2);
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  ::unlink(path.c_str());
  std::printf("requests counted: %llu\n", static_cast<unsigned long long>(mv_requests_total()));
  return 0;
}
