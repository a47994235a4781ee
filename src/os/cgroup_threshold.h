// Kernel notifications on a memory cgroup's usage, for thresholds the supervisor wants to hear
// about at once rather than at its next sample: on cgroup v1 an eventfd registered through
// cgroup.event_control on memory.usage_in_bytes; on cgroup v2 memory.events, which the kernel
// marks changed (POLLPRI) when usage passes memory.high.
#pragma once

#include <cstdint>
#include <string>

#include "core/result.h"
#include "os/unique_fd.h"

namespace memvisor {

// v1: an eventfd that becomes readable each time the usage of the cgroup at `dir` (absolute)
// crosses `bytes`, upwards or downwards, and once more when the cgroup is removed. Closing it
// unregisters the threshold.
Result<UniqueFd> arm_v1_usage_threshold(const std::string& dir, uint64_t bytes);

// v2: `dir`/memory.events opened for reading; poll it for EPOLLPRI. After each wakeup call
// consume_v2_events() so that the next change wakes again.
Result<UniqueFd> open_v2_memory_events(const std::string& dir);
void consume_v2_events(int fd);

// Reads an eventfd's counter so it stops being readable.
void consume_eventfd(int fd);

}  // namespace memvisor
