// A plain-HTTP URL on a host the supervisor can reach (a Go worker's pprof endpoint), parsed once
// for the config check and for the client that uses it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace memvisor {

struct HttpUrl {
  std::string host;  // a name, an IPv4 address, or an IPv6 address without its brackets
  uint16_t port = 80;
  std::string path;  // "" or "/..." without a trailing slash
};

// "http://HOST[:PORT][/PATH]"; https, user info, queries and fragments are refused.
Result<HttpUrl> parse_http_url(std::string_view text);

// The config's message for `pprof = "..."`, or nothing when it is fine.
std::optional<std::string> check_pprof_url(std::string_view text);

}  // namespace memvisor
