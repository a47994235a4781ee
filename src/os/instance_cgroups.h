// Memory cgroups of their own for instances, what `cgroup = true` asks the controller for: one
// directory per process, SERVICE.N.GEN, under memvisor.PID inside the cgroup memvisor itself runs
// in. The child joins its cgroup before exec, so the worker and everything it forks are counted
// from the start.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "core/result.h"
#include "os/cgroup_memory_reader.h"
#include "os/unique_fd.h"

namespace memvisor {

class InstanceCgroups {
 public:
  // Finds the memory controller and creates the parent directory. v1: the memory hierarchy's
  // mount; v2: where memory is enabled for the children of memvisor's cgroup, or in a cgroup
  // systemd delegated (Delegate=yes), which memvisor then splits: its own processes into a leaf
  // `main`, memory enabled for the children, memvisor.PID beside `main`. The Error says why not
  // (no controller, no permission, not delegated).
  static Result<InstanceCgroups> create(const std::string& cgroup_root = kCgroupRoot,
                                        const std::string& proc_root = kProcRoot);
  InstanceCgroups(InstanceCgroups&& other) noexcept
      : version_(other.version_),
        hierarchy_(std::exchange(other.hierarchy_, {})),
        parent_(std::move(other.parent_)),
        busy_(std::move(other.busy_)) {}
  InstanceCgroups& operator=(InstanceCgroups&&) = delete;
  // Removes what is left: the instances' directories (once empty) and the parent.
  ~InstanceCgroups();

  // Creates `name` and opens its cgroup.procs for writing: the spawned child writes "0" into it.
  Result<UniqueFd> make(const std::string& name);
  // Writes `bytes` into the file `file` of `name` (memory.limit_in_bytes, memory.max, ...).
  Status write_limit(const std::string& name, const std::string& file, uint64_t bytes);
  // Kills what is left in `name` and removes it; a directory still busy (its last processes not
  // exited yet) is retried by retry_removals(), the next remove() or at destruction.
  void remove(const std::string& name);
  // Removes the busy directories whose processes have exited since (call it after reaping).
  void retry_removals();
  // Directories waiting for their last processes to exit.
  size_t busy() const { return busy_.size(); }

  // Relative to the hierarchy (what /proc/PID/cgroup shows): "/process_api/x/memvisor.12/web.1.1".
  std::string cgroup_path(const std::string& name) const { return parent_ + "/" + name; }
  const std::string& hierarchy() const { return hierarchy_; }
  CgroupVersion version() const { return version_; }

 private:
  InstanceCgroups(CgroupVersion version, std::string hierarchy, std::string parent)
      : version_(version), hierarchy_(std::move(hierarchy)), parent_(std::move(parent)) {}
  bool try_remove(const std::string& dir);

  CgroupVersion version_ = CgroupVersion::kV1;
  std::string hierarchy_;          // the mount, "/sys/fs/cgroup/memory"; empty once moved from
  std::string parent_;             // relative to it
  std::vector<std::string> busy_;  // directories to remove once their processes are reaped
};

}  // namespace memvisor
