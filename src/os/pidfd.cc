// pidfd_open and pidfd_send_signal through syscall(2), since glibc wrappers are recent.
#include "os/pidfd.h"

#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "os/sys_error.h"

namespace memvisor {

Result<UniqueFd> pidfd_open(pid_t pid) {
  // The kernel makes pidfds close-on-exec unconditionally.
  const long fd = ::syscall(SYS_pidfd_open, pid, 0);
  if (fd < 0) return sys_error("pidfd_open pid", std::to_string(pid));
  return UniqueFd(static_cast<int>(fd));
}

Status pidfd_signal(int pidfd, int signal) {
  if (::syscall(SYS_pidfd_send_signal, pidfd, signal, nullptr, 0) < 0) {
    const int err = errno;
    return Error{
        "send signal " + std::to_string(signal) + " through pidfd " + std::to_string(pidfd), err};
  }
  return {};
}

bool pidfd_exited(int pidfd) {
  pollfd entry{pidfd, POLLIN, 0};
  return ::poll(&entry, 1, 0) == 1 && (entry.revents & POLLIN) != 0;
}

}  // namespace memvisor
