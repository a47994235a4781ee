// Event-driven limits: the kernel watches each instance cgroup's usage against the service's
// armed thresholds (limit, critical; see core/rules/kernel_thresholds.h) and wakes the
// supervisor's loop when it crosses one, so the rules run at once instead of at the next sample.
// One registration per process and threshold, made when the process appears in the fleet (each
// generation has a cgroup of its own), dropped when it goes, all renewed after a reload.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/rules/kernel_thresholds.h"
#include "os/cgroup_memory_reader.h"
#include "os/event_loop.h"
#include "os/unique_fd.h"
#include "supervisor/fleet_state.h"
#include "supervisor/memory_watch.h"

namespace memvisor {

class KernelWatch {
 public:
  using Wakeup = std::function<void(const MemoryWatch::Key&)>;
  // MEMVISOR_KERNEL_THRESHOLDS=0 in the environment turns arming off (for comparisons: the
  // tests' negative control, the reaction benchmark).
  KernelWatch(EventLoop& loop, Wakeup wakeup, std::string cgroup_root = kCgroupRoot);
  ~KernelWatch();
  KernelWatch(const KernelWatch&) = delete;
  KernelWatch& operator=(const KernelWatch&) = delete;

  // Arms the processes new to the fleet, drops those gone; `reconfigured`: re-arms every one
  // (thresholds may have changed). Returns the processes armed now.
  std::vector<MemoryWatch::Key> update(const FleetState& fleet, bool reconfigured);
  // Processes with at least one armed notification.
  size_t armed() const { return armed_.size(); }
  // One more usage threshold for an armed process (cgroup v1; see usage_target()): the latest
  // few are kept, the oldest such extra dropped beyond them; none when the newest is already
  // within 512 KiB of `bytes` (the kernel's own granularity). No-op on v2, where the notification
  // is memory.high, which is also the kernel's throttle and stays where it was set.
  void arm_usage(const MemoryWatch::Key& key, uint64_t bytes);
  std::vector<MemoryWatch::Key> armed_keys() const;

 private:
  struct Armed {
    std::string cgroup;
    std::vector<UniqueFd> fds;             // the service's thresholds first, then arm_usage()'s
    size_t base = 0;                       // how many are the service's
    std::optional<uint64_t> newest_extra;  // arm_usage()'s latest level
  };
  // Registers `fd`'s notifications on the loop to wake `key`; false (logged) when it cannot.
  bool watch(const MemoryWatch::Key& key, UniqueFd& fd, bool v1);
  // Registers the process's thresholds; true when its cgroup is already at or past the lowest.
  bool arm(const ServiceConfig& service, const FleetProcess& process, const KernelArming& arming);
  void disarm(Armed& armed);

  EventLoop& loop_;
  Wakeup wakeup_;
  std::optional<Result<CgroupMemoryReader>> cgroups_;
  std::string cgroup_root_;
  bool enabled_ = true;
  std::map<MemoryWatch::Key, Armed> armed_;
  std::map<std::string, std::string> told_;  // per service: what was logged about its arming
};

}  // namespace memvisor
