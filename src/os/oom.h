// The kernel's OOM killer, as memvisor reads and steers it: the oom_kill counters (a cgroup's,
// the machine's) that tell an OOM kill from any other SIGKILL, and oom_score_adj, which keeps
// memvisor's own processes from being picked.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace memvisor {

// The number after `key` at the start of a line of a "key value" file (memory.events,
// memory.oom_control, /proc/vmstat); nullopt when no such line.
std::optional<uint64_t> keyed_counter(std::string_view text, std::string_view key);

// The OOM kills counted in a memory cgroup's directory: v2 memory.events, v1 memory.oom_control
// (both have an `oom_kill N` line; v1's only since Linux 4.13). nullopt: not readable.
std::optional<uint64_t> cgroup_oom_kills(const std::string& dir);

// The machine's OOM kills since boot (/proc/vmstat oom_kill).
std::optional<uint64_t> machine_oom_kills(const std::string& proc_root = "/proc");

// Writes /proc/self/oom_score_adj. Lowering it needs CAP_SYS_RESOURCE: the Error says so.
Status set_own_oom_score_adj(int value);
std::optional<int> oom_score_adj_of(pid_t pid);

}  // namespace memvisor
