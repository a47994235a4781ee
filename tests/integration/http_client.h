// Test-side HTTP: a GET through cpp-httplib, a free loopback port, and raw sockets for clients
// that misbehave on purpose.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace memvisor::testing {

struct HttpReply {
  int status = 0;
  std::string body;
  std::string content_type;
};

// nullopt when the connection or the read failed.
std::optional<HttpReply> http_get(int port, const std::string& path,
                                  std::chrono::seconds timeout = std::chrono::seconds(5));
// The body of a 200 reply to GET /metrics; empty when there is none (yet).
std::string scrape_metrics(int port);
// A connected TCP socket to 127.0.0.1:port, or -1.
int connect_loopback(int port);

}  // namespace memvisor::testing
