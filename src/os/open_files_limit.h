// The soft limit on open descriptors. A daemon that serves many connections raises it so that
// clients cannot use up the descriptors it needs for /proc and its own files.
#pragma once

#include <sys/resource.h>

namespace memvisor {

// Raises this process's soft limit towards `wanted`, never above the hard limit (which needs no
// privilege), and returns the soft limit in force afterwards (RLIM_INFINITY when unlimited).
rlim_t raise_open_files_limit(rlim_t wanted);

}  // namespace memvisor
