#include "core/config/listen_address.h"

#include <arpa/inet.h>

#include <charconv>

namespace memvisor {
namespace {

// inet_pton is a pure parser (no syscall): it only reads the string.
bool is_ipv4(const std::string& host) {
  in_addr out{};
  return ::inet_pton(AF_INET, host.c_str(), &out) == 1;
}

bool is_ipv6(const std::string& host) {
  in6_addr out{};
  return ::inet_pton(AF_INET6, host.c_str(), &out) == 1;
}

const char* const kForm = "expected HOST:PORT, [IPV6]:PORT or :PORT (e.g. \"127.0.0.1:9464\")";

}  // namespace

Result<ListenAddress> parse_listen_address(std::string_view text) {
  if (text.empty()) return Error{std::string("empty address; ") + kForm};
  ListenAddress address;
  std::string_view port_text;
  if (text.front() == '[') {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) return Error{"missing ']' after the IPv6 address"};
    address.host = std::string(text.substr(1, close - 1));
    address.ipv6 = true;
    if (close + 1 >= text.size() || text[close + 1] != ':') {
      return Error{std::string("missing ':PORT' after ']'; ") + kForm};
    }
    port_text = text.substr(close + 2);
    if (!is_ipv6(address.host)) return Error{"'" + address.host + "' is not an IPv6 address"};
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return Error{std::string("missing ':PORT'; ") + kForm};
    address.host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
    if (address.host.find(':') != std::string::npos) {
      return Error{"an IPv6 address needs brackets: [" + address.host + "]:PORT"};
    }
    if (address.host.empty() || address.host == "localhost") address.host = "127.0.0.1";
    if (!is_ipv4(address.host)) {
      return Error{"'" + address.host + "' is not an IP address (names are not resolved; use " +
                   "127.0.0.1, 0.0.0.0, [::1] or an interface's address)"};
    }
  }
  unsigned port = 0;
  const auto [end, error] =
      std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || error != std::errc() || end != port_text.data() + port_text.size() ||
      port < 1 || port > 65535) {
    return Error{"port '" + std::string(port_text) + "': expected a number from 1 to 65535"};
  }
  address.port = static_cast<uint16_t>(port);
  return address;
}

std::string to_string(const ListenAddress& address) {
  const std::string port = std::to_string(address.port);
  return address.ipv6 ? "[" + address.host + "]:" + port : address.host + ":" + port;
}

}  // namespace memvisor
