// Reading /proc: pure parsers of the text, thin readers around them with an injectable root.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace memvisor {

inline constexpr const char* kProcRoot = "/proc";

struct ProcStat {
  pid_t pid = 0;
  std::string comm;
  char state = '?';
  pid_t ppid = 0;
  pid_t pgrp = 0;
  pid_t session = 0;
  uint64_t start_time_ticks = 0;  // field 22: distinguishes a reused pid
  uint64_t utime_ticks = 0;       // fields 14 and 15: CPU time in user and kernel mode
  uint64_t stime_ticks = 0;
  uint64_t rss_pages = 0;  // field 24
};

// Parses /proc/PID/stat; comm may contain spaces and parentheses.
std::optional<ProcStat> parse_proc_stat(std::string_view text);
Result<ProcStat> read_proc_stat(pid_t pid, const std::string& proc_root = kProcRoot);

// Walks the parent chain from `pid` upward: true when `ancestor` is `pid` itself or one of its
// ancestors. False when the chain cannot be read (the process is gone).
bool is_same_or_descendant(pid_t pid, pid_t ancestor, const std::string& proc_root = kProcRoot);

// Every pid whose parent is `parent` (scans proc_root).
std::vector<pid_t> child_pids(pid_t parent, const std::string& proc_root = kProcRoot);
// Every pid in process group `pgid`.
std::vector<pid_t> process_group_members(pid_t pgid, const std::string& proc_root = kProcRoot);

}  // namespace memvisor
