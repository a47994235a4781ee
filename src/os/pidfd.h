// Process file descriptors: a handle on one process that a recycled PID can never alias.
#pragma once

#include <sys/types.h>

#include "core/result.h"
#include "os/unique_fd.h"

namespace memvisor {

Result<UniqueFd> pidfd_open(pid_t pid);
// Signals exactly the process behind the pidfd; ESRCH once it has exited.
Status pidfd_signal(int pidfd, int signal);

}  // namespace memvisor
