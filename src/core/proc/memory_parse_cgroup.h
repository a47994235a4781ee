// Pure parsers of the cgroup memory files (v2 and v1), pressure stall information (PSI) and
// /proc/PID/cgroup. Text in, values out; no syscalls. The reader is os/cgroup_memory_reader.h.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace memvisor {

// Every "key number" line of a flat-keyed file, for the keys the named fields do not cover.
using CgroupStatValues = std::map<std::string, uint64_t, std::less<>>;

// A single-number file: memory.current, memory.swap.current, memory.usage_in_bytes.
std::optional<uint64_t> parse_cgroup_number(std::string_view text);

// Whether cgroup.controllers or cgroup.subtree_control text ("cpuset cpu io memory pids\n")
// names `controller`.
bool lists_controller(std::string_view text, std::string_view controller);

// A limit: memory.max ("max" or bytes) or memory.limit_in_bytes. nullopt when malformed;
// kNoMemoryLimit for "max" and for v1's "unlimited", which it prints as the largest page-aligned
// signed 64-bit value (9223372036854771712 with 4 KiB pages): any value of 2^62 or more.
inline constexpr uint64_t kNoMemoryLimit = UINT64_MAX;
std::optional<uint64_t> parse_cgroup_limit(std::string_view text);

// cgroup v2 memory.stat, bytes. anon, file and shmem are required; the rest read as 0 when absent
// (they vary with the kernel version and configuration).
struct CgroupV2MemoryStat {
  uint64_t anon = 0;
  uint64_t file = 0;  // page cache, tmpfs and shmem included
  uint64_t shmem = 0;
  uint64_t kernel = 0;  // Linux 5.18+
  uint64_t kernel_stack = 0;
  uint64_t pagetables = 0;
  uint64_t sock = 0;
  uint64_t slab = 0;
  uint64_t file_mapped = 0;
  uint64_t file_dirty = 0;
  uint64_t anon_thp = 0;
  CgroupStatValues values;  // every numeric line, the named ones included
};

std::optional<CgroupV2MemoryStat> parse_cgroup_v2_memory_stat(std::string_view text);

// cgroup v2 memory.events: counts since the cgroup was created. low, high, max, oom and oom_kill
// are required; oom_group_kill (Linux 5.17+) reads as 0 when absent.
struct CgroupMemoryEvents {
  uint64_t low = 0;
  uint64_t high = 0;
  uint64_t max = 0;
  uint64_t oom = 0;
  uint64_t oom_kill = 0;
  uint64_t oom_group_kill = 0;
};

std::optional<CgroupMemoryEvents> parse_cgroup_memory_events(std::string_view text);

// cgroup v1 memory.stat, bytes. The local fields (cache, rss) are required; the total_* fields
// count the whole subtree (when memory.use_hierarchy is 1) and read as 0 when absent, as does
// swap without swap accounting.
struct CgroupV1MemoryStat {
  uint64_t cache = 0;  // page cache, shmem included
  uint64_t rss = 0;    // anonymous and swap cache
  uint64_t rss_huge = 0;
  uint64_t shmem = 0;
  uint64_t mapped_file = 0;
  uint64_t swap = 0;
  uint64_t total_cache = 0;
  uint64_t total_rss = 0;
  uint64_t total_rss_huge = 0;
  uint64_t total_shmem = 0;
  uint64_t total_mapped_file = 0;
  uint64_t total_swap = 0;
  uint64_t hierarchical_memory_limit = 0;
  CgroupStatValues values;
};

std::optional<CgroupV1MemoryStat> parse_cgroup_v1_memory_stat(std::string_view text);

// cgroup v1 memory.oom_control: oom_kill_disable and under_oom are required, oom_kill (Linux
// 4.13+) reads as 0 when absent.
struct CgroupV1OomControl {
  bool oom_kill_disable = false;
  bool under_oom = false;
  uint64_t oom_kill = 0;
};

std::optional<CgroupV1OomControl> parse_cgroup_v1_oom_control(std::string_view text);

// Pressure stall information: /proc/pressure/memory and a cgroup's memory.pressure.
//   some avg10=0.00 avg60=0.00 avg300=0.00 total=0
//   full avg10=0.00 avg60=0.00 avg300=0.00 total=0
struct PsiLine {
  double avg10 = 0;  // percent of wall time stalled, averaged over 10 s, 60 s, 300 s
  double avg60 = 0;
  double avg300 = 0;
  uint64_t total_us = 0;  // cumulative stall time, microseconds
};

struct Psi {
  PsiLine some;           // at least one task stalled on memory
  PsiLine full;           // every non-idle task stalled at once
  bool has_full = false;  // /proc/pressure/cpu lacked "full" before Linux 5.13
};

// The "some" line is required; unknown lines are skipped; a malformed some or full line, or one
// missing a field, makes the text malformed.
std::optional<Psi> parse_psi(std::string_view text);

// /proc/PID/cgroup: "0::/path" for the v2 hierarchy, "N:ctrl,ctrl:/path" for each v1 one.
struct ProcCgroup {
  std::optional<std::string> v2_path;
  std::optional<std::string> v1_memory_path;  // the hierarchy whose controllers include memory
};

// nullopt when a line is not "id:controllers:path"; a path may itself contain ':'.
std::optional<ProcCgroup> parse_proc_cgroup(std::string_view text);

}  // namespace memvisor
