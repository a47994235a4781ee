// Reads a cgroup's memory (usage, breakdown, limit, events, pressure) from cgroup v2, or from the
// v1 memory controller, whichever holds memory under the cgroup root.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "core/proc/memory_parse_cgroup.h"
#include "core/result.h"
#include "os/proc.h"

namespace memvisor {

inline constexpr const char* kCgroupRoot = "/sys/fs/cgroup";

enum class CgroupVersion { kV1, kV2 };

// One cgroup's memory, bytes; every figure counts the cgroup's whole subtree.
struct CgroupMemorySample {
  uint64_t current = 0;             // memory.current (v2), memory.usage_in_bytes (v1)
  uint64_t limit = kNoMemoryLimit;  // memory.max (v2), memory.limit_in_bytes (v1)
  uint64_t anon = 0;                // v2 anon, v1 total_rss
  uint64_t file = 0;                // page cache, shmem included: v2 file, v1 total_cache
  uint64_t shmem = 0;               // v2 shmem, v1 total_shmem
  uint64_t swap = 0;  // v2 memory.swap.current, v1 total_swap; 0 without swap accounting
  // v2 memory.events. v1 has only two of them: max = memory.failcnt (usage hit the limit),
  // oom_kill from memory.oom_control.
  CgroupMemoryEvents events;
  std::optional<Psi> pressure;  // v2 memory.pressure; v1 has none (use the host's)
};

class CgroupMemoryReader {
 public:
  // Finds the memory controller under `cgroup_root`: v2 when the root's (or, on a hybrid host,
  // root/unified's) cgroup.controllers lists "memory", else v1 at root/memory. An Error with
  // ENOENT when neither is there.
  static Result<CgroupMemoryReader> detect(std::string cgroup_root = kCgroupRoot,
                                           std::string proc_root = kProcRoot);

  CgroupVersion version() const { return version_; }
  // The directory cgroup paths are relative to, e.g. "/sys/fs/cgroup/memory" for v1.
  const std::string& hierarchy() const { return hierarchy_; }

  // The cgroup of a process in this hierarchy, from /proc/PID/cgroup: "/system.slice/x.service".
  Result<std::string> cgroup_of(pid_t pid) const;

  // `cgroup_path` is relative to the hierarchy ("/" or "/workers/web"). The usage file and
  // memory.stat are required; limit, swap, events and pressure are left at their defaults when
  // absent (the root cgroup, kernels without swap accounting or PSI).
  Result<CgroupMemorySample> read(const std::string& cgroup_path) const;

  // proc_root/pressure/memory.
  Result<Psi> read_host_pressure() const;

 private:
  CgroupMemoryReader(CgroupVersion version, std::string hierarchy, std::string proc_root);
  Status read_v2(const std::string& dir, CgroupMemorySample& sample) const;
  Status read_v1(const std::string& dir, CgroupMemorySample& sample) const;

  CgroupVersion version_;
  std::string hierarchy_;
  std::string proc_root_;
};

}  // namespace memvisor
