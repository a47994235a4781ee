#include "os/listen_socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <grp.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <charconv>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "os/spawn.h"
#include "os/sys_error.h"

namespace memvisor {
namespace {

// A sockaddr of any family with its length.
struct SocketName {
  sockaddr_storage storage{};
  socklen_t length = 0;
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
};

SocketName unix_name(const SocketAddress& address) {
  SocketName name;
  auto* un = reinterpret_cast<sockaddr_un*>(&name.storage);
  un->sun_family = AF_UNIX;
  // The abstract namespace: a leading NUL, and the length says where the name ends.
  const size_t start = address.kind == SocketAddress::Kind::unix_abstract ? 1 : 0;
  std::memcpy(un->sun_path + start, address.name.data(), address.name.size());
  name.length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + start +
                                       address.name.size() + (start == 0 ? 1 : 0));
  return name;
}

std::optional<SocketName> tcp_name(const SocketAddress& address) {
  SocketName name;
  if (address.ip.ipv6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&name.storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(address.ip.port);
    if (::inet_pton(AF_INET6, address.ip.host.c_str(), &in6->sin6_addr) != 1) return std::nullopt;
    name.length = sizeof(sockaddr_in6);
  } else {
    auto* in = reinterpret_cast<sockaddr_in*>(&name.storage);
    in->sin_family = AF_INET;
    in->sin_port = htons(address.ip.port);
    if (::inet_pton(AF_INET, address.ip.host.c_str(), &in->sin_addr) != 1) return std::nullopt;
    name.length = sizeof(sockaddr_in);
  }
  return name;
}

// A unix socket file left by an earlier run is replaced, one that somebody still listens on or
// a file of another kind is not.
Status clear_stale_unix_path(const SocketAddress& address, const std::string& label) {
  struct stat st {};
  if (::lstat(address.name.c_str(), &st) != 0) {
    return errno == ENOENT ? Status{} : sys_error("listen on", label);
  }
  if (!S_ISSOCK(st.st_mode)) {
    return Error{"listen on " + label + ": the path exists and is not a socket (not replaced)",
                 EEXIST};
  }
  UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!probe.valid()) return sys_error("listen on", label);
  const SocketName name = unix_name(address);
  if (::connect(probe.get(), name.get(), name.length) == 0 || errno == EAGAIN) {
    return Error{"listen on " + label + ": another process listens there", EADDRINUSE};
  }
  if (errno != ECONNREFUSED) return sys_error("listen on", label);
  if (::unlink(address.name.c_str()) != 0 && errno != ENOENT) {
    return sys_error("remove stale socket for", label);
  }
  return {};
}

int int_option(int fd, int level, int option) {
  int value = 0;
  socklen_t length = sizeof value;
  if (::getsockopt(fd, level, option, &value, &length) != 0) return -1;
  return value;
}

}  // namespace

Result<UniqueFd> open_listen_socket(const SocketAddress& address, const ListenOptions& options) {
  const std::string label = to_string(address);
  if (address.kind == SocketAddress::Kind::passed_name) {
    return Error{"listen on " + label + ": no socket of that name was passed to memvisor " +
                 "(LISTEN_FDNAMES)"};
  }
  SocketName name;
  int family = AF_UNIX;
  if (address.is_unix()) {
    name = unix_name(address);
  } else {
    auto tcp = tcp_name(address);
    if (!tcp) return Error{"listen on " + label + ": not an IP address", EINVAL};
    name = *tcp;
    family = address.ip.ipv6 ? AF_INET6 : AF_INET;
  }
  UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return sys_error("create socket for", label);
  if (!address.is_unix()) {
    const int on = 1;
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0) {
      return sys_error("set SO_REUSEADDR on", label);
    }
    if (address.ip.ipv6) {
      const int v6only = address.ip.host == "::" ? 0 : 1;
      if (::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof v6only) != 0) {
        return sys_error("set IPV6_V6ONLY on", label);
      }
    }
  }
  const bool is_path = address.kind == SocketAddress::Kind::unix_path;
  if (is_path) {
    if (Status cleared = clear_stale_unix_path(address, label); !cleared) return cleared.error();
  }
  if (::bind(fd.get(), name.get(), name.length) != 0) return sys_error("listen on", label);
  if (is_path) {
    // Until listen(2) nobody can connect, so mode and owner are in place before the first client.
    auto undo = [&](std::string_view what) {
      Error error = sys_error(what, label);
      ::unlink(address.name.c_str());
      return error;
    };
    if (::chmod(address.name.c_str(), options.mode) != 0) return undo("chmod");
    if (options.owner && ::chown(address.name.c_str(), *options.owner,
                                 options.group.value_or(static_cast<gid_t>(-1))) != 0) {
      return undo("chown");
    }
  }
  if (::listen(fd.get(), options.backlog > 0 ? options.backlog : SOMAXCONN) != 0) {
    Error error = sys_error("listen on", label);
    if (is_path) ::unlink(address.name.c_str());
    return error;
  }
  return fd;
}

bool listen_socket_matches(int fd, const SocketAddress& address) {
  if (address.kind == SocketAddress::Kind::passed_name) return false;
  if (int_option(fd, SOL_SOCKET, SO_TYPE) != SOCK_STREAM) return false;
  if (int_option(fd, SOL_SOCKET, SO_ACCEPTCONN) != 1) return false;
  SocketName bound;
  bound.length = sizeof bound.storage;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&bound.storage), &bound.length) != 0) {
    return false;
  }
  SocketName wanted;
  if (address.is_unix()) {
    wanted = unix_name(address);
  } else if (auto tcp = tcp_name(address)) {
    wanted = *tcp;
  } else {
    return false;
  }
  if (bound.storage.ss_family != wanted.storage.ss_family) return false;
  if (bound.storage.ss_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(&bound.storage);
    const auto* b = reinterpret_cast<const sockaddr_in*>(&wanted.storage);
    return a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
  }
  if (bound.storage.ss_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&bound.storage);
    const auto* b = reinterpret_cast<const sockaddr_in6*>(&wanted.storage);
    return a->sin6_port == b->sin6_port &&
           std::memcmp(&a->sin6_addr, &b->sin6_addr, sizeof a->sin6_addr) == 0;
  }
  // AF_UNIX: the kernel may report a path's length with or without its NUL.
  const auto* a = reinterpret_cast<const sockaddr_un*>(&bound.storage);
  const auto* b = reinterpret_cast<const sockaddr_un*>(&wanted.storage);
  const size_t header = offsetof(sockaddr_un, sun_path);
  if (bound.length <= header || wanted.length <= header) return false;
  std::string_view got(a->sun_path, bound.length - header);
  std::string_view want(b->sun_path, wanted.length - header);
  if (address.kind == SocketAddress::Kind::unix_path) {
    got = got.substr(0, got.find('\0'));
    want = want.substr(0, want.find('\0'));
  }
  return got == want;
}

Result<std::pair<uid_t, gid_t>> resolve_socket_owner(const std::string& owner) {
  const size_t colon = owner.find(':');
  auto user = lookup_user(owner.substr(0, colon));
  if (!user) return user.error();
  if (colon == std::string::npos) return std::pair{user->uid, user->gid};
  const std::string group_name = owner.substr(colon + 1);
  gid_t gid = 0;
  const char* end = group_name.data() + group_name.size();
  if (std::from_chars(group_name.data(), end, gid).ptr == end) return std::pair{user->uid, gid};
  std::vector<char> buffer(16384);
  struct group entry {};
  struct group* found = nullptr;
  const int rc = ::getgrnam_r(group_name.c_str(), &entry, buffer.data(), buffer.size(), &found);
  if (rc != 0) return Error{"look up group '" + group_name + "'", rc};
  if (found == nullptr) return Error{"unknown group '" + group_name + "'"};
  return std::pair{user->uid, found->gr_gid};
}

std::vector<PassedFd> parse_passed_fds(const char* listen_pid, const char* listen_fds,
                                       const char* listen_fdnames, pid_t self) {
  std::vector<PassedFd> passed;
  if (listen_pid == nullptr || listen_fds == nullptr) return passed;
  const std::string_view pid_text(listen_pid);
  pid_t pid = 0;
  if (std::from_chars(pid_text.data(), pid_text.data() + pid_text.size(), pid).ptr !=
          pid_text.data() + pid_text.size() ||
      pid != self) {
    return passed;  // meant for another process (an ancestor that did not clear them)
  }
  const std::string_view count_text(listen_fds);
  int count = 0;
  if (std::from_chars(count_text.data(), count_text.data() + count_text.size(), count).ptr !=
          count_text.data() + count_text.size() ||
      count <= 0 || count > 4096) {
    return passed;
  }
  std::string_view names = listen_fdnames != nullptr ? listen_fdnames : "";
  for (int i = 0; i < count; ++i) {
    const size_t colon = names.find(':');
    std::string name(names.substr(0, colon));
    names = colon == std::string_view::npos ? "" : names.substr(colon + 1);
    passed.push_back({3 + i, name.empty() ? "unknown" : name});
  }
  return passed;
}

std::vector<PassedSocket> take_passed_sockets() {
  std::vector<PassedSocket> sockets;
  for (PassedFd& fd : parse_passed_fds(std::getenv("LISTEN_PID"), std::getenv("LISTEN_FDS"),
                                       std::getenv("LISTEN_FDNAMES"), ::getpid())) {
    const int flags = ::fcntl(fd.fd, F_GETFD);
    if (flags < 0) continue;  // not open after all
    ::fcntl(fd.fd, F_SETFD, flags | FD_CLOEXEC);
    sockets.push_back({UniqueFd(fd.fd), std::move(fd.name)});
  }
  // Single-threaded at this point (the controller calls it first thing).
  ::unsetenv("LISTEN_PID");
  ::unsetenv("LISTEN_FDS");
  ::unsetenv("LISTEN_FDNAMES");
  return sockets;
}

}  // namespace memvisor
