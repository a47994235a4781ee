// Parsing http://HOST[:PORT][/PATH].
#include "core/config/http_url.h"

#include <charconv>

namespace memvisor {

Result<HttpUrl> parse_http_url(std::string_view text) {
  constexpr std::string_view scheme = "http://";
  if (!text.starts_with(scheme)) return Error{"expected a URL like http://127.0.0.1:6060", 0};
  std::string_view rest = text.substr(scheme.size());
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
  if (authority.find('@') != std::string_view::npos)
    return Error{"a user name in the URL is not supported", 0};
  if (path.find_first_of("?#") != std::string_view::npos)
    return Error{"a query or fragment in the URL is not supported", 0};
  while (path.ends_with('/')) path.remove_suffix(1);
  HttpUrl url;
  url.path = std::string(path);
  std::string_view port;
  if (authority.starts_with('[')) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return Error{"an IPv6 address without its ']'", 0};
    url.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (!after.starts_with(':')) return Error{"expected ':PORT' after the IPv6 address", 0};
      port = after.substr(1);
    }
  } else {
    const size_t colon = authority.rfind(':');
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port = authority.substr(colon + 1);
  }
  if (url.host.empty()) return Error{"expected a host in the URL", 0};
  if (authority.find_first_of(" \t") != std::string_view::npos)
    return Error{"a space in the URL's host", 0};
  if (!port.empty() || authority.ends_with(':')) {
    unsigned value = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
    if (ec != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535)
      return Error{"expected a port from 1 to 65535 in the URL", 0};
    url.port = static_cast<uint16_t>(value);
  }
  return url;
}

std::optional<std::string> check_pprof_url(std::string_view text) {
  auto url = parse_http_url(text);
  if (!url) return url.error().message + ", got '" + std::string(text) + "'";
  return std::nullopt;
}

}  // namespace memvisor
