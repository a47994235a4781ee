// The message of a start that failed before the process ran, with what to do about the limits
// an operator meets in production: out of descriptors (RLIMIT_NOFILE, fs.file-max) or out of
// processes (a cgroup's pids.max, RLIMIT_NPROC). A bare "Resource temporarily unavailable" says
// not which limit. The restart policy's backoff follows as for a crash (its own event).
#pragma once

#include <string>

#include "core/result.h"

namespace memvisor {

// "cannot start: fork for /usr/bin/app: Resource temporarily unavailable (the process limit is
// reached: pids.max ...)".
std::string spawn_failure_message(const Error& error);

}  // namespace memvisor
