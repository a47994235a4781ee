// The receiving end of systemd's notify protocol: a datagram socket with SO_PASSCRED, so every
// message carries its sender's kernel-verified pid, uid and gid.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <utility>

#include "core/result.h"
#include "os/unique_fd.h"

namespace memvisor {

struct NotifyMessage {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
  std::string text;  // "READY=1\nSTATUS=...", as sent
};

class NotifySocket {
 public:
  // Binds a SOCK_DGRAM socket at `path` (an existing socket file there is replaced), non-blocking,
  // close-on-exec, file mode `mode`. Fails with a clear Error when the path is too long. A path
  // starting with '@' names an abstract socket (systemd's convention for NOTIFY_SOCKET): no file,
  // no mode, gone with the descriptor.
  static Result<NotifySocket> bind(const std::string& path, mode_t mode);
  // Hand-written so a moved-from socket forgets its path and never unlinks it.
  NotifySocket(NotifySocket&& other) noexcept;
  NotifySocket& operator=(NotifySocket&& other) noexcept;
  ~NotifySocket();

  int fd() const { return fd_.get(); }
  const std::string& path() const { return path_; }
  // Non-blocking: the next datagram, or nullopt when none is waiting. Datagrams without
  // credentials are dropped; file descriptors passed along are closed.
  std::optional<NotifyMessage> receive();

 private:
  NotifySocket(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
  void unlink_file() const;
  UniqueFd fd_;
  std::string path_;
};

// Sends one datagram to the socket named by NOTIFY_SOCKET (a path, or '@' for the abstract
// namespace). Used by memvisor to notify its own service manager; no-op when unset.
Status notify_service_manager(const std::string& text);

}  // namespace memvisor
