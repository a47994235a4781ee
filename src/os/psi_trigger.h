// Memory pressure from the kernel: where memvisor's PSI file is, and a PSI trigger armed on it
// (the fd then reports EPOLLPRI each window the stall passes the threshold: no polling).
#pragma once

#include <string>
#include <string_view>

#include "core/result.h"
#include "os/unique_fd.h"

namespace memvisor {

// The PSI file a rule's `source` names: "host" → PROC/pressure/memory; "cgroup" → the
// memory.pressure of the cgroup v2 memvisor runs in (its parent when memvisor moved itself into
// a leaf `main` for cgroup = true), under CGROUP_ROOT or CGROUP_ROOT/unified; a path as it is.
// An error says why a cgroup's file is missing (cgroup v1 has none).
Result<std::string> psi_file_of(std::string_view source, const std::string& proc_root = "/proc",
                                const std::string& cgroup_root = "/sys/fs/cgroup");

// Opens `path` and writes `trigger` ("some 1000000 10000000") to it. Fails (and writes nothing)
// when the file is not on procfs or cgroup2: a plain file (a test's fixture) is read instead.
// EINVAL from the kernel usually means a window it refuses for an unprivileged writer (a
// multiple of 2 s since Linux 6.5).
Result<UniqueFd> arm_psi_trigger(const std::string& path, std::string_view trigger);

}  // namespace memvisor
