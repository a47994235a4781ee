// Spawn failures in words, with the limit that caused them when it is one of the known ones.
#include "core/lifecycle/spawn_failure.h"

#include <cerrno>

namespace memvisor {

std::string spawn_failure_message(const Error& error) {
  std::string message = "cannot start: " + error.describe();
  switch (error.errnum) {
    case EMFILE:
      message +=
          " (memvisor's open-files limit is reached: raise RLIMIT_NOFILE, e.g. "
          "LimitNOFILE= in the systemd unit or ulimit -n)";
      break;
    case ENFILE:
      message += " (the system's open-files limit is reached: fs.file-max)";
      break;
    case EAGAIN:
      message +=
          " (the process limit is reached: pids.max of memvisor's cgroup, TasksMax= in "
          "the systemd unit, or RLIMIT_NPROC of its user)";
      break;
    case ENOMEM:
      message += " (out of memory)";
      break;
    default:
      break;
  }
  return message;
}

}  // namespace memvisor
