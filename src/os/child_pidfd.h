// A pidfd on a pre-fork master's child, opened only once /proc says the pid is today that
// master's child with the expected start time: the supervisor names a child by pid, and a pid may
// have been reused since it looked.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

#include "core/result.h"
#include "os/proc.h"
#include "os/unique_fd.h"

namespace memvisor {

// The parent and start time are checked before the pidfd is opened and again after: the pidfd
// names whatever held the pid at its opening, and the second check proves that was the child.
Result<UniqueFd> open_child_pidfd(pid_t pid, pid_t parent, uint64_t start_ticks,
                                  const std::string& proc_root = kProcRoot);

}  // namespace memvisor
