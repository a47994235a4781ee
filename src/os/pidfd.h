// Process file descriptors: a handle on one process that a recycled PID can never alias.
#pragma once

#include <sys/types.h>

#include "core/result.h"
#include "os/unique_fd.h"

namespace memvisor {

Result<UniqueFd> pidfd_open(pid_t pid);
// Signals exactly the process behind the pidfd; ESRCH once it has exited.
Status pidfd_signal(int pidfd, int signal);
// True once the process behind the pidfd has exited (the pidfd polls readable), even if its pid
// already names another process.
bool pidfd_exited(int pidfd);

}  // namespace memvisor
