// Blocking signals and reading them from a signalfd, so the loop handles them like any other fd.
#include "os/signal_fd.h"

#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "os/sys_error.h"

namespace memvisor {

Result<SignalFd> SignalFd::create(std::initializer_list<int> signals) {
  sigset_t set;
  sigemptyset(&set);
  for (int signal : signals) {
    if (sigaddset(&set, signal) < 0) {
      return sys_error("add to the signalfd set signal", std::to_string(signal));
    }
  }
  SignalFd result;
  if (::sigprocmask(SIG_BLOCK, &set, &result.previous_) < 0) {
    return sys_error("block signals for the signalfd");
  }
  const int fd = ::signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
  if (fd < 0) {
    Error error = sys_error("create signalfd");
    ::sigprocmask(SIG_SETMASK, &result.previous_, nullptr);
    return error;
  }
  result.fd_.reset(fd);
  return result;
}

std::vector<int> SignalFd::read_pending() {
  std::vector<int> pending;
  signalfd_siginfo infos[16];
  for (;;) {
    const ssize_t n = ::read(fd_.get(), infos, sizeof infos);
    if (n < 0) {
      if (errno == EINTR) continue;
      break;  // EAGAIN: drained. Anything else leaves nothing more to read either.
    }
    if (n == 0) break;
    const size_t count = static_cast<size_t>(n) / sizeof infos[0];
    for (size_t i = 0; i < count; ++i) pending.push_back(static_cast<int>(infos[i].ssi_signo));
  }
  return pending;
}

}  // namespace memvisor
