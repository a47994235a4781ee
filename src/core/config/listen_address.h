// The address the HTTP endpoint listens on, as written in the config or on the command line:
// "127.0.0.1:9464", "[::1]:9464", "0.0.0.0:9464", "localhost:9464", or ":9464" (loopback).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/result.h"

namespace memvisor {

struct ListenAddress {
  std::string host;  // an IPv4 or IPv6 literal, without brackets
  uint16_t port = 0;
  bool ipv6 = false;
};

// Only IP literals and "localhost" (→ 127.0.0.1): a name that resolves differently from one boot
// to the next should not decide which interface the metrics are exposed on.
Result<ListenAddress> parse_listen_address(std::string_view text);
// "127.0.0.1:9464", "[::1]:9464".
std::string to_string(const ListenAddress& address);

}  // namespace memvisor
