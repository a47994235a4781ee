// A monotonic timerfd with absolute deadlines, so re-arming never accumulates drift.
#include "os/timer_fd.h"

#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <string>

#include "os/sys_error.h"

namespace memvisor {

Result<TimerFd> TimerFd::create() {
  // Non-blocking so acknowledge() never stalls the loop when the timer has not fired.
  const int fd = ::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (fd < 0) return sys_error("timerfd_create CLOCK_MONOTONIC");
  TimerFd timer;
  timer.fd_.reset(fd);
  return timer;
}

Status TimerFd::arm(std::optional<MonoTime> deadline) {
  itimerspec spec{};  // all zero: disarm
  int flags = 0;
  if (deadline) {
    // libstdc++'s steady_clock reads CLOCK_MONOTONIC, so its epoch is the timerfd's epoch.
    int64_t ns =
        std::chrono::duration_cast<std::chrono::nanoseconds>(deadline->time_since_epoch()).count();
    // An all-zero it_value would disarm; a deadline at or before the epoch must still fire.
    if (ns < 1) ns = 1;
    spec.it_value.tv_sec = static_cast<time_t>(ns / 1'000'000'000);
    spec.it_value.tv_nsec = static_cast<long>(ns % 1'000'000'000);
    flags = TFD_TIMER_ABSTIME;
  }
  if (::timerfd_settime(fd_.get(), flags, &spec, nullptr) < 0) {
    return sys_error(deadline ? "arm timerfd" : "disarm timerfd", std::to_string(fd_.get()));
  }
  return {};
}

void TimerFd::acknowledge() {
  uint64_t expirations = 0;
  // EAGAIN (not expired) is fine: the point is only that the fd stops being readable.
  [[maybe_unused]] const ssize_t n = ::read(fd_.get(), &expirations, sizeof expirations);
}

}  // namespace memvisor
