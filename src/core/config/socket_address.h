// Where a service's listening socket lives, as written in `listen`: a TCP address
// ("127.0.0.1:8000", "[::1]:8000", "0.0.0.0:8000", ":8000" for loopback), a unix socket
// ("unix:/run/app/web.sock", "unix:@name" for the abstract namespace), or a socket handed to
// memvisor itself by its service manager, named by its FileDescriptorName ("fdname:web").
#pragma once

#include <string>
#include <string_view>

#include "core/config/listen_address.h"
#include "core/result.h"

namespace memvisor {

struct SocketAddress {
  enum class Kind { tcp, unix_path, unix_abstract, passed_name };
  Kind kind = Kind::tcp;
  ListenAddress ip;  // tcp
  std::string name;  // unix_path: the path; unix_abstract: without '@'; passed_name: the name

  bool is_unix() const { return kind == Kind::unix_path || kind == Kind::unix_abstract; }
  friend bool operator==(const SocketAddress& a, const SocketAddress& b) {
    return a.kind == b.kind && a.name == b.name && a.ip.host == b.ip.host &&
           a.ip.port == b.ip.port && a.ip.ipv6 == b.ip.ipv6;
  }
};

// sockaddr_un's sun_path holds 108 bytes with the terminating NUL (or the abstract name's '\0').
inline constexpr size_t kMaxUnixPathLength = 107;

Result<SocketAddress> parse_socket_address(std::string_view text);
// The address as written in the config, canonical: parse_socket_address(to_string(a)) == a.
std::string to_string(const SocketAddress& address);

// Whether two addresses would take the same port or path (0.0.0.0:8000 takes 127.0.0.1:8000's
// port too, and [::]:8000 all of them, since memvisor binds IPv6 wildcards dual-stack).
bool addresses_overlap(const SocketAddress& a, const SocketAddress& b);

}  // namespace memvisor
