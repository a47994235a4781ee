#include "core/config/socket_address.h"

namespace memvisor {
namespace {

constexpr std::string_view kUnixPrefix = "unix:";
constexpr std::string_view kPassedPrefix = "fdname:";

bool is_wildcard(const ListenAddress& ip) {
  return ip.host == "0.0.0.0" || ip.host == "::";
}

}  // namespace

Result<SocketAddress> parse_socket_address(std::string_view text) {
  SocketAddress address;
  if (text.starts_with(kUnixPrefix)) {
    std::string_view path = text.substr(kUnixPrefix.size());
    address.kind = SocketAddress::Kind::unix_path;
    if (path.starts_with('@')) {
      address.kind = SocketAddress::Kind::unix_abstract;
      path.remove_prefix(1);
    }
    if (path.empty()) {
      return Error{"expected a path after 'unix:' (e.g. \"unix:/run/app/web.sock\")"};
    }
    if (path.size() > kMaxUnixPathLength) {
      return Error{"a unix socket path holds at most " + std::to_string(kMaxUnixPathLength) +
                   " bytes, this one has " + std::to_string(path.size())};
    }
    if (path.find('\0') != std::string_view::npos) {
      return Error{"expected a unix socket path without NUL characters"};
    }
    address.name = std::string(path);
    return address;
  }
  if (text.starts_with(kPassedPrefix)) {
    std::string_view name = text.substr(kPassedPrefix.size());
    // systemd's FileDescriptorName: at most 255 printable ASCII characters, no ':'.
    bool ok = !name.empty() && name.size() <= 255;
    for (const char c : name) ok = ok && c > ' ' && c < 127 && c != ':';
    if (!ok) {
      return Error{"expected a socket name after 'fdname:' (printable, no ':' or spaces, at " +
                   std::string("most 255 characters), got '") + std::string(name) + "'"};
    }
    address.kind = SocketAddress::Kind::passed_name;
    address.name = std::string(name);
    return address;
  }
  auto ip = parse_listen_address(text);
  if (!ip) {
    return Error{ip.error().message + " (or \"unix:/PATH\" for a unix socket)"};
  }
  address.ip = *ip;
  return address;
}

std::string to_string(const SocketAddress& address) {
  switch (address.kind) {
    case SocketAddress::Kind::unix_path:
      return std::string(kUnixPrefix) + address.name;
    case SocketAddress::Kind::unix_abstract:
      return std::string(kUnixPrefix) + "@" + address.name;
    case SocketAddress::Kind::passed_name:
      return std::string(kPassedPrefix) + address.name;
    case SocketAddress::Kind::tcp:
      break;
  }
  return to_string(address.ip);
}

bool addresses_overlap(const SocketAddress& a, const SocketAddress& b) {
  if (a.kind != b.kind) return false;
  if (a.kind != SocketAddress::Kind::tcp) return a.name == b.name;
  if (a.ip.port != b.ip.port) return false;
  if (a.ip.host == b.ip.host) return true;
  if (a.ip.host == "::" || b.ip.host == "::") return true;  // dual-stack: every address
  return a.ip.ipv6 == b.ip.ipv6 && (is_wildcard(a.ip) || is_wildcard(b.ip));
}

}  // namespace memvisor
