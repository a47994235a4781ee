// A small C++ HTTP worker on the memvisor worker library: serves on 127.0.0.1, port
// PORT_BASE (default 8000) + MEMVISOR_INSTANCE, one connection at a time, and counts every
// request with memvisor::client::request_done(), so `requests = { max, jitter }` can recycle it.
// It also reports malloc's bytes in use as the gauge `malloc_in_use_bytes` (memvisor::client::
// gauge), which /metrics exports and a rule can read (metric = "gauge:malloc_in_use_bytes").
//
//   memvisor run --instances 2 --ready notify --max-requests 1000 -- build/cpp_worker
//   curl localhost:8001/
#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <iostream>
#include <memvisor/worker.hpp>
#include <string>

namespace {

int env_int(const char* name, int fallback) {
  const char* value = std::getenv(name);
  return value != nullptr && *value != '\0' ? std::atoi(value) : fallback;
}

// Reads until the end of the request head (we answer every request the same way), then replies.
void serve(int client, long served) {
  std::string request;
  char buffer[4096];
  while (request.find("\r\n\r\n") == std::string::npos && request.size() < 65536) {
    const ssize_t n = ::read(client, buffer, sizeof buffer);
    if (n <= 0) return;
    request.append(buffer, static_cast<size_t>(n));
  }
  const char* service = std::getenv("MEMVISOR_SERVICE");
  const char* instance = std::getenv("MEMVISOR_INSTANCE");
  const std::string body = "hello from " + std::string(service ? service : "?") + "." +
                           std::string(instance ? instance : "?") + " (pid " +
                           std::to_string(::getpid()) + ", request " + std::to_string(served) +
                           ")\n";
  const std::string response = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                               std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
  size_t sent = 0;
  while (sent < response.size()) {
    const ssize_t n = ::send(client, response.data() + sent, response.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return;
    sent += static_cast<size_t>(n);
  }
}

}  // namespace

int main() {
  const int port = env_int("PORT_BASE", 8000) + env_int("MEMVISOR_INSTANCE", 0);
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int on = 1;
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  // During a surge recycle the replacement listens on this same port while the old process still
  // serves; the kernel spreads new connections over both until the old one stops.
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEPORT, &on, sizeof on);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (listener < 0 || ::bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listener, 128) != 0) {
    std::cerr << "cannot listen on 127.0.0.1:" << port << "\n";
    return 1;
  }
  std::cout << "listening on 127.0.0.1:" << port << std::endl;
  memvisor::client::status("listening on port " + std::to_string(port));
  memvisor::client::ready();  // also READY=1 to NOTIFY_SOCKET (ready = "notify")

  for (long served = 1;; ++served) {
    const int client = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) continue;
    serve(client, served);
    ::close(client);
    memvisor::client::request_done();  // an atomic increment; sent in batches
    // mallinfo2() walks malloc's arenas: every 64 requests is often enough for a gauge.
    if (served % 64 == 1) {
      memvisor::client::gauge("malloc_in_use_bytes", static_cast<double>(mallinfo2().uordblks));
    }
  }
}
