// Kernel-speed limits: which of a service's memory rules the kernel can watch for memvisor (its
// instances' cgroups notify when their usage crosses a threshold), and what memvisor writes into
// each instance's cgroup (memory_max, the kernel's own backstop). Pure: the supervisor arms what
// this says, the controller writes what this says.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/rules/memory_rules.h"

namespace memvisor {

// One rule armed as a kernel notification on the instance's cgroup usage.
struct KernelThreshold {
  std::string rule;  // "limit" or "critical"
  MetricKind metric = MetricKind::pss;
  uint64_t bytes = 0;
};

struct KernelArming {
  // Ascending by bytes; empty: nothing to arm (the rules are sampled on the interval only).
  std::vector<KernelThreshold> thresholds;
  // Rules that stay sampled only, with why: "critical reads swap, which the cgroup's usage does
  // not bound".
  std::vector<std::string> not_armed;
};

// Whether a rule on `metric` can be armed on the cgroup's usage: the cgroup's usage
// (memory.usage_in_bytes, memory.current) is charged every page the instance's processes
// allocate, so it reaches a threshold no later than their cgroup or anonymous memory does. RSS,
// PSS and USS also count file pages another cgroup was charged for (shared libraries already in
// the page cache) and can run ahead of it: armed all the same, since the growth that matters is
// allocation, and usage_target() arms each process where its own metric could arrive.
// Swap is not in usage; a gauge is the worker's own number.
bool kernel_measurable(MetricKind metric);

// The limit and critical rules of a service with `cgroup = true` to arm. Empty for a service
// without cgroups of its own; with prefork = true nothing is armed (each child is judged on its
// own, and the instance's cgroup holds them all).
KernelArming kernel_thresholds(const ServiceConfig& service);

// Whether a sample's own metric is at or above one of the armed thresholds: while it is, the
// supervisor keeps re-measuring the instance quickly, so that `for = K` counts its samples at
// kernel speed (the kernel only says when usage crosses).
bool above_armed(const KernelArming& arming, const MemoryValues& values);

// How far before the metric's crossing a cgroup v1 usage threshold is armed. The kernel compares
// usage with the thresholds only every 128 page events (pages charged or uncharged) per CPU:
// 512 KiB of 4 KiB pages, so a threshold is noticed up to that late, twice that when the
// worker's allocations run on two CPUs. Arming this much early turns the lateness into an early
// wake-up, which the 5 ms follow-ups then turn into the crossing itself.
inline constexpr uint64_t kUsageThresholdSlack = uint64_t{1} << 20;

struct UsageTarget {
  // The metric is within the slack of a threshold it has not reached: the crossing may come in
  // growth the kernel does not check at once, so the supervisor looks again soon.
  bool near = false;
  // The cgroup usage (above the current one) to be woken at next; nullopt: the metric is at or
  // past every armed threshold (the rule decides) or nothing is armed.
  std::optional<uint64_t> wake_at;
};

// Where to be woken next, from a sample's values (values.cgroup is the cgroup's usage). Every
// byte the metric gains by allocating is charged to the cgroup, so the metric cannot reach a
// threshold before usage has grown by the gap between them: wake at usage + gap − slack. That
// holds whichever runs ahead: usage (page tables, the binary's page cache) or the metric (RSS and
// PSS count shared-library pages another cgroup was charged for). Within the slack already: wake
// at the next growth the kernel checks (usage + a page).
UsageTarget usage_target(const KernelArming& arming, const MemoryValues& values,
                         uint64_t slack = kUsageThresholdSlack);

// memory_max in bytes: the configured size, or critical + 10% for "auto"; nullopt: off.
std::optional<uint64_t> effective_memory_max(const ServiceConfig& service);

// What the controller writes into each new instance cgroup, by file name relative to it, in
// order. v1: memory.limit_in_bytes. v2: memory.max, and memory.high at the lowest armed
// threshold (its crossing is the memory.events change the supervisor waits for) or, with nothing
// to arm, memory_max × 0.9 (the kernel reclaims and throttles there before it kills at max).
// Empty without memory_max: memory.high is not memvisor's to set then.
struct CgroupWrite {
  std::string file;
  uint64_t bytes = 0;
  bool operator==(const CgroupWrite&) const = default;
};
std::vector<CgroupWrite> cgroup_limit_writes(const ServiceConfig& service, bool cgroup_v2);

}  // namespace memvisor
