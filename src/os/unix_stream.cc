// Unix stream sockets for the control protocol: listen/accept/connect, credentials, full writes.
#include "os/unix_stream.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "os/sys_error.h"

namespace memvisor {
namespace {

constexpr size_t kMaxPath = sizeof(sockaddr_un::sun_path) - 1;  // room for the NUL

Result<sockaddr_un> unix_address(const std::string& path) {
  if (path.size() > kMaxPath) {
    return Error{"unix socket path too long (" + std::to_string(path.size()) + " bytes, max " +
                     std::to_string(kMaxPath) + "): " + path,
                 ENAMETOOLONG};
  }
  if (path.empty()) return Error{"unix socket path is empty", EINVAL};
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  return addr;
}

const sockaddr* as_sockaddr(const sockaddr_un& addr) {
  return reinterpret_cast<const sockaddr*>(&addr);
}

// Waits for `fd` to accept more data (or report its error), retrying on signals.
Status wait_writable(int fd) {
  pollfd p{fd, POLLOUT, 0};
  while (::poll(&p, 1, -1) < 0) {
    if (errno != EINTR) return sys_error("poll for writing fd", std::to_string(fd));
  }
  return {};
}

}  // namespace

Result<UniqueFd> listen_unix(const std::string& path, mode_t mode, int backlog) {
  auto addr = unix_address(path);
  if (!addr) return addr.error();
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return sys_error("create unix socket", path);

  // Replace a socket left by an earlier run, but never delete some other kind of file.
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(path.c_str());
  if (::bind(fd.get(), as_sockaddr(*addr), sizeof *addr) < 0) {
    return sys_error("bind unix socket", path);
  }
  // chmod before listen: until listen nobody can connect, so the umask's mode is never exposed.
  if (::chmod(path.c_str(), mode) < 0) {
    Error error = sys_error("chmod unix socket", path);
    ::unlink(path.c_str());
    return error;
  }
  if (::listen(fd.get(), backlog) < 0) {
    Error error = sys_error("listen on unix socket", path);
    ::unlink(path.c_str());
    return error;
  }
  return fd;
}

Result<UniqueFd> accept_unix(int listen_fd) {
  for (;;) {
    const int fd = ::accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) return UniqueFd(fd);
    if (errno != EINTR) return sys_error("accept on unix socket fd", std::to_string(listen_fd));
  }
}

Result<PeerCredentials> peer_credentials(int connected_fd) {
  ucred cred{};
  socklen_t length = sizeof cred;
  if (::getsockopt(connected_fd, SOL_SOCKET, SO_PEERCRED, &cred, &length) < 0) {
    return sys_error("read peer credentials of fd", std::to_string(connected_fd));
  }
  return PeerCredentials{cred.pid, cred.uid, cred.gid};
}

Result<UniqueFd> connect_unix(const std::string& path) {
  auto addr = unix_address(path);
  if (!addr) return addr.error();
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return sys_error("create unix socket to connect to", path);
  if (::connect(fd.get(), as_sockaddr(*addr), sizeof *addr) == 0) return fd;
  if (errno != EINTR) return sys_error("connect to unix socket", path);
  // An interrupted connect carries on in the background; wait for it and collect its outcome.
  if (auto waited = wait_writable(fd.get()); !waited) return waited.error();
  int so_error = 0;
  socklen_t length = sizeof so_error;
  if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &so_error, &length) < 0) {
    return sys_error("connect to unix socket", path);
  }
  if (so_error != 0) return Error{"connect to unix socket " + path, so_error};
  return fd;
}

Result<std::pair<UniqueFd, UniqueFd>> socket_pair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) < 0) {
    return sys_error("create unix socketpair");
  }
  return std::pair{UniqueFd(fds[0]), UniqueFd(fds[1])};
}

Status write_all(int fd, std::string_view data) {
  // send(MSG_NOSIGNAL) turns a vanished peer into EPIPE instead of a process-killing SIGPIPE;
  // pipes and files are not sockets, so they fall back to write().
  bool is_socket = true;
  while (!data.empty()) {
    const ssize_t n = is_socket ? ::send(fd, data.data(), data.size(), MSG_NOSIGNAL)
                                : ::write(fd, data.data(), data.size());
    if (n >= 0) {
      data.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (errno == ENOTSOCK && is_socket) {
      is_socket = false;
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      if (auto waited = wait_writable(fd); !waited) return waited;
    } else if (errno != EINTR) {
      return sys_error("write to fd", std::to_string(fd));
    }
  }
  return {};
}

}  // namespace memvisor
