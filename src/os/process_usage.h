// CPU time, resident memory and start time of a process, from /proc/PID/stat and /proc/stat:
// memvisor's own figures for /metrics (process_cpu_seconds_total and friends).
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <string_view>

#include "core/observe/metrics_snapshot.h"
#include "core/result.h"
#include "os/proc.h"

namespace memvisor {

struct ProcessClock {
  double ticks_per_second = 100;  // sysconf(_SC_CLK_TCK)
  double page_size = 4096;        // sysconf(_SC_PAGESIZE)
  double boot_time_s = 0;         // when the machine booted, unix seconds (btime, refined)

  // When a process started, unix seconds, from its start time in ticks after boot
  // (/proc/PID/stat field 22).
  double started_at(uint64_t start_ticks) const {
    return boot_time_s + static_cast<double>(start_ticks) / ticks_per_second;
  }
};

// Pure: /proc/PID/stat text → usage. utime+stime (fields 14, 15), starttime (22), rss (24).
std::optional<ProcessUsage> parse_process_usage(std::string_view stat_text,
                                                const ProcessClock& clock,
                                                std::string process_label);
// Pure: the btime line of /proc/stat.
std::optional<double> parse_boot_time(std::string_view proc_stat_text);

// The clock of this machine (reads /proc/stat once per call).
Result<ProcessClock> read_process_clock(const std::string& proc_root = kProcRoot);
Result<ProcessUsage> read_process_usage(pid_t pid, const ProcessClock& clock,
                                        std::string process_label,
                                        const std::string& proc_root = kProcRoot);

}  // namespace memvisor
