// Receiving sd_notify datagrams with kernel-attached credentials, and sending our own.
#include "os/notify_socket.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdlib>
#include <cstring>

#include "os/sys_error.h"

namespace memvisor {
namespace {

constexpr size_t kMaxPath = sizeof(sockaddr_un::sun_path) - 1;  // room for the NUL
constexpr size_t kMaxPassedFds = 16;

}  // namespace

Result<NotifySocket> NotifySocket::bind(const std::string& path, mode_t mode) {
  // A path needs its NUL inside sun_path; an abstract name is counted by length alone.
  const bool abstract = !path.empty() && path[0] == '@';
  const size_t limit = abstract ? kMaxPath + 1 : kMaxPath;
  if (path.size() > limit) {
    return Error{"notify socket path too long (" + std::to_string(path.size()) + " bytes, max " +
                     std::to_string(limit) + "): " + path,
                 ENAMETOOLONG};
  }
  if (path.empty() || path == "@") return Error{"bind notify socket: empty path", EINVAL};
  UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return sys_error("create notify socket", path);

  // Before bind, so that no datagram can arrive without credentials.
  const int on = 1;
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_PASSCRED, &on, sizeof on) < 0) {
    return sys_error("enable SO_PASSCRED on notify socket", path);
  }
  // Replace a socket left by an earlier run, but never delete some other kind of file.
  struct stat st {};
  if (!abstract && ::lstat(path.c_str(), &st) == 0 && S_ISSOCK(st.st_mode)) ::unlink(path.c_str());

  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  if (abstract) addr.sun_path[0] = '\0';
  const auto length = abstract
                          ? static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size())
                          : static_cast<socklen_t>(sizeof addr);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), length) < 0) {
    return sys_error("bind notify socket", path);
  }
  // From here on the file exists; wrapping it at once makes every early return unlink it.
  NotifySocket socket(std::move(fd), path);
  if (!abstract && ::chmod(path.c_str(), mode) < 0) return sys_error("chmod notify socket", path);
  return socket;
}

void NotifySocket::unlink_file() const {
  if (fd_.valid() && !path_.empty() && path_[0] != '@') ::unlink(path_.c_str());
}

NotifySocket::NotifySocket(NotifySocket&& other) noexcept
    : fd_(std::move(other.fd_)), path_(std::exchange(other.path_, {})) {}

NotifySocket& NotifySocket::operator=(NotifySocket&& other) noexcept {
  if (this != &other) {
    unlink_file();
    fd_ = std::move(other.fd_);
    path_ = std::exchange(other.path_, {});
  }
  return *this;
}

NotifySocket::~NotifySocket() {
  unlink_file();
}

std::optional<NotifyMessage> NotifySocket::receive() {
  for (;;) {
    char data[4096];
    alignas(
        cmsghdr) char control[CMSG_SPACE(sizeof(ucred)) + CMSG_SPACE(sizeof(int) * kMaxPassedFds)];
    iovec iov{data, sizeof data};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof control;
    const ssize_t n = ::recvmsg(fd_.get(), &msg, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::nullopt;  // EAGAIN: nothing waiting
    }

    std::optional<ucred> credentials;
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      if (c->cmsg_level != SOL_SOCKET) continue;
      if (c->cmsg_type == SCM_CREDENTIALS && c->cmsg_len >= CMSG_LEN(sizeof(ucred))) {
        ucred cred{};
        std::memcpy(&cred, CMSG_DATA(c), sizeof cred);
        credentials = cred;
      } else if (c->cmsg_type == SCM_RIGHTS) {
        // Nobody asked for these fds; keeping them would leak one per message.
        const size_t count = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
        for (size_t i = 0; i < count; ++i) {
          int passed = -1;
          std::memcpy(&passed, CMSG_DATA(c) + i * sizeof(int), sizeof passed);
          ::close(passed);
        }
      }
    }
    if ((msg.msg_flags & MSG_TRUNC) != 0 || !credentials) continue;
    return NotifyMessage{credentials->pid, credentials->uid, credentials->gid,
                         std::string(data, static_cast<size_t>(n))};
  }
}

Status notify_service_manager(const std::string& text) {
  const char* env = std::getenv("NOTIFY_SOCKET");
  if (env == nullptr || env[0] == '\0') return {};
  const std::string name = env;
  if (name[0] != '/' && name[0] != '@') {
    return Error{"NOTIFY_SOCKET is neither a path nor an abstract name: " + name, EAFNOSUPPORT};
  }
  // A path needs its NUL inside sun_path; an abstract name is counted by length alone.
  const bool abstract = name[0] == '@';
  const size_t limit = abstract ? kMaxPath + 1 : kMaxPath;
  if (name.size() > limit) {
    return Error{"NOTIFY_SOCKET too long (" + std::to_string(name.size()) + " bytes, max " +
                     std::to_string(limit) + "): " + name,
                 ENAMETOOLONG};
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, name.data(), name.size());
  if (abstract) addr.sun_path[0] = '\0';
  const auto length =
      static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size() + (abstract ? 0 : 1));

  UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return sys_error("create socket for NOTIFY_SOCKET", name);
  if (::sendto(fd.get(), text.data(), text.size(), MSG_NOSIGNAL,
               reinterpret_cast<const sockaddr*>(&addr), length) < 0) {
    return sys_error("send to NOTIFY_SOCKET", name);
  }
  return {};
}

}  // namespace memvisor
