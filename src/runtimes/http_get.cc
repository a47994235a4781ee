// cpp-httplib's client (Debian libcpp-httplib-dev): chunked bodies, which Go's
// net/http sends, and timeouts per connect and per read, with nothing to maintain here. Only this
// file includes it: the header is large.
#include "runtimes/http_get.h"

#include <httplib.h>

#include <chrono>

namespace memvisor {

Result<std::string> http_get(const HttpUrl& server, const std::string& path, Millis timeout,
                             size_t max_bytes) {
  const std::string host =
      server.host.find(':') == std::string::npos ? server.host : "[" + server.host + "]";
  const std::string url = "http://" + host + ":" + std::to_string(server.port) + path;
  httplib::Client client(server.host, server.port);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  client.set_connection_timeout(timeout);
  client.set_read_timeout(timeout);
  client.set_write_timeout(timeout);
  std::string body;
  bool too_big = false, too_late = false;
  auto answer = client.Get(path, [&](const char* data, size_t length) {
    if (body.size() + length > max_bytes) {
      too_big = true;
      return false;
    }
    // The read timeout is per read: a peer that trickles bytes is stopped by the whole deadline.
    if (std::chrono::steady_clock::now() > deadline) {
      too_late = true;
      return false;
    }
    body.append(data, length);
    return true;
  });
  if (too_big) return Error{"GET " + url + ": the answer is larger than " + format_size(max_bytes)};
  if (too_late)
    return Error{"GET " + url + ": no complete answer within " + format_duration(timeout)};
  if (!answer) return Error{"GET " + url + ": " + httplib::to_string(answer.error())};
  if (answer->status != 200)
    return Error{"GET " + url + ": HTTP " + std::to_string(answer->status)};
  return body;
}

}  // namespace memvisor
