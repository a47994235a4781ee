// A CLOCK_MONOTONIC timerfd armed to one absolute deadline at a time.
#pragma once

#include <chrono>
#include <optional>

#include "core/result.h"
#include "os/unique_fd.h"

namespace memvisor {

using MonoTime = std::chrono::steady_clock::time_point;

class TimerFd {
 public:
  static Result<TimerFd> create();
  int fd() const { return fd_.get(); }
  // Arms for `deadline` (a past deadline fires at once); nullopt disarms.
  Status arm(std::optional<MonoTime> deadline);
  // Consumes the expiration count so the fd stops being readable.
  void acknowledge();

 private:
  UniqueFd fd_;
};

}  // namespace memvisor
