// Signals as readable events: blocks the given signals and delivers them through a signalfd.
#pragma once

#include <signal.h>

#include <initializer_list>
#include <optional>
#include <vector>

#include "core/result.h"
#include "os/unique_fd.h"

namespace memvisor {

class SignalFd {
 public:
  // Blocks `signals` for the calling thread (and its future children until they unblock).
  static Result<SignalFd> create(std::initializer_list<int> signals);

  int fd() const { return fd_.get(); }
  // Non-blocking: every pending signal number (empty when none).
  std::vector<int> read_pending();

  // The mask that was in force before create(); spawned children restore it before exec.
  const sigset_t& previous_mask() const { return previous_; }

 private:
  UniqueFd fd_;
  sigset_t previous_{};
};

}  // namespace memvisor
