// Non-blocking TCP with poll() against a deadline.
#include "runtimes/node/deadline_socket.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace memvisor::nodejs {
namespace {

// poll() for `events` until the deadline: true when ready, false on timeout.
Result<bool> poll_socket_until(int fd, short events, Deadline deadline) {
  for (;;) {
    pollfd entry{fd, events, 0};
    const int ready = ::poll(&entry, 1, millis_until(deadline));
    if (ready < 0) {
      if (errno == EINTR) continue;
      return Error::from_errno("poll the inspector connection");
    }
    if (ready == 0) {
      if (std::chrono::steady_clock::now() < deadline) continue;  // rounding of the timeout
      return false;
    }
    return true;
  }
}

}  // namespace

int millis_until(Deadline deadline) {
  const auto left =
      std::chrono::ceil<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  return static_cast<int>(std::clamp<int64_t>(left.count(), 0, 1 << 30));
}

Result<DeadlineSocket> DeadlineSocket::connect(const std::string& address, uint16_t port,
                                               Deadline deadline) {
  sockaddr_storage storage{};
  socklen_t length = 0;
  int family = AF_INET;
  if (address.find(':') != std::string::npos) {
    family = AF_INET6;
    sockaddr_in6 v6{};
    v6.sin6_family = AF_INET6;
    v6.sin6_port = htons(port);
    if (inet_pton(AF_INET6, address.c_str(), &v6.sin6_addr) != 1)
      return Error{"not an IPv6 address: " + address, 0};
    std::memcpy(&storage, &v6, sizeof v6);
    length = sizeof v6;
  } else {
    sockaddr_in v4{};
    v4.sin_family = AF_INET;
    v4.sin_port = htons(port);
    if (inet_pton(AF_INET, address.c_str(), &v4.sin_addr) != 1)
      return Error{"not an IPv4 address: " + address, 0};
    std::memcpy(&storage, &v4, sizeof v4);
    length = sizeof v4;
  }
  const std::string where =
      (family == AF_INET6 ? "[" + address + "]" : address) + ":" + std::to_string(port);
  UniqueFd fd(::socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Error::from_errno("socket for " + where);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&storage), length) != 0) {
    if (errno != EINPROGRESS) return Error::from_errno("connect to " + where);
    auto ready = poll_socket_until(fd.get(), POLLOUT, deadline);
    if (!ready) return ready.error();
    if (!*ready) return Error{"connect to " + where + ": timed out", 0};
    int error = 0;
    socklen_t size = sizeof error;
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &size) != 0)
      return Error::from_errno("connect to " + where);
    if (error != 0) return Error{"connect to " + where, error};
  }
  return DeadlineSocket(std::move(fd));
}

Status DeadlineSocket::send_all(std::string_view data, Deadline deadline) {
  while (!data.empty()) {
    const ssize_t sent = ::send(fd_.get(), data.data(), data.size(), MSG_NOSIGNAL);
    if (sent > 0) {
      data.remove_prefix(static_cast<size_t>(sent));
      continue;
    }
    if (sent < 0 && errno == EINTR) continue;
    if (sent < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
      return Error::from_errno("send to the inspector");
    auto ready = poll_socket_until(fd_.get(), POLLOUT, deadline);
    if (!ready) return ready.error();
    if (!*ready) return Error{"send to the inspector: timed out", 0};
  }
  return {};
}

Result<bool> DeadlineSocket::wait_readable(Deadline until) {
  return poll_socket_until(fd_.get(), POLLIN, until);
}

Result<size_t> DeadlineSocket::receive(std::string& out, size_t max, Deadline deadline) {
  for (;;) {
    const size_t before = out.size();
    out.resize(before + max);
    const ssize_t got = ::recv(fd_.get(), out.data() + before, max, 0);
    out.resize(before + (got > 0 ? static_cast<size_t>(got) : 0));
    if (got >= 0) return static_cast<size_t>(got);
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK)
      return Error::from_errno("receive from the inspector");
    auto ready = poll_socket_until(fd_.get(), POLLIN, deadline);
    if (!ready) return ready.error();
    if (!*ready) return Error{"receive from the inspector: timed out", 0};
  }
}

}  // namespace memvisor::nodejs
