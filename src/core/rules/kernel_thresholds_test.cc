// Which rules are armed as kernel notifications, and what memvisor writes into instance cgroups
// for memory_max, per cgroup version.
#include "core/rules/kernel_thresholds.h"

#include <gtest/gtest.h>

// GCC 12 warns falsely about optional MemoryMetric members of rules assigned to a ServiceConfig
// (as in memory_rules_test.cc).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace memvisor {
namespace {

constexpr uint64_t kArmMiB = 1024 * 1024;

ServiceConfig with_limits() {
  ServiceConfig service;
  service.name = "web";
  service.cgroup = true;
  service.memory.limit = LimitRule{100 * kArmMiB, 3, std::nullopt};
  service.memory.critical = SizeRule{200 * kArmMiB, std::nullopt};
  return service;
}

TEST(KernelThresholds, LimitAndCriticalOnMemoryMetricsAreArmedInRisingOrder) {
  ServiceConfig service = with_limits();
  service.memory.critical->metric = MemoryMetric::cgroup;
  const KernelArming arming = kernel_thresholds(service);
  ASSERT_EQ(arming.thresholds.size(), 2u);
  EXPECT_EQ(arming.thresholds[0].rule, "limit");
  EXPECT_EQ(arming.thresholds[0].bytes, 100 * kArmMiB);
  EXPECT_EQ(arming.thresholds[0].metric, MetricKind::pss);  // the service's default metric
  EXPECT_EQ(arming.thresholds[1].rule, "critical");
  EXPECT_EQ(arming.thresholds[1].metric, MetricKind::cgroup);
  EXPECT_TRUE(arming.not_armed.empty());
  for (MetricKind kind :
       {MetricKind::rss, MetricKind::uss, MetricKind::anon, MetricKind::cgroup, MetricKind::pss}) {
    EXPECT_TRUE(kernel_measurable(kind));
  }
}

TEST(KernelThresholds, SwapGaugesPreforkAndNoCgroupAreNotArmed) {
  ServiceConfig service = with_limits();
  service.memory.limit->metric = MemoryMetric::swap;
  service.memory.critical->metric = MemoryMetric::of_gauge("heap_bytes");
  KernelArming arming = kernel_thresholds(service);
  EXPECT_TRUE(arming.thresholds.empty());
  ASSERT_EQ(arming.not_armed.size(), 2u);
  EXPECT_EQ(arming.not_armed[0], "limit reads swap, which the cgroup's usage does not bound");
  EXPECT_EQ(arming.not_armed[1], "critical reads a gauge, which the cgroup's usage does not bound");

  service = with_limits();
  service.prefork = true;
  arming = kernel_thresholds(service);
  EXPECT_TRUE(arming.thresholds.empty());
  EXPECT_EQ(arming.not_armed.size(), 1u);

  service = with_limits();
  service.cgroup = false;
  arming = kernel_thresholds(service);
  EXPECT_TRUE(arming.thresholds.empty());
  EXPECT_TRUE(arming.not_armed.empty());
}

TEST(KernelThresholds, AboveOnlyWhileTheMetricIsAtAThreshold) {
  const KernelArming arming = kernel_thresholds(with_limits());
  MemoryValues values;
  values.pss = 99 * kArmMiB;
  values.cgroup = 101 * kArmMiB;  // the kernel's crossing comes before PSS gets there
  EXPECT_FALSE(above_armed(arming, values));
  values.pss = 100 * kArmMiB;
  EXPECT_TRUE(above_armed(arming, values));
}

TEST(KernelThresholds, TheNextWakeUpIsWhereTheMetricCouldFirstArriveLessTheSlack) {
  const KernelArming arming = kernel_thresholds(with_limits());  // limit 100, critical 200 MiB
  MemoryValues values;
  // Usage ahead of the metric (page tables, page cache): the gap to the limit is 10 MiB.
  values.pss = 90 * kArmMiB;
  values.cgroup = 104 * kArmMiB;
  UsageTarget target = usage_target(arming, values, 1 * kArmMiB);
  EXPECT_FALSE(target.near);
  EXPECT_EQ(target.wake_at, (104 + 10 - 1) * kArmMiB);
  // The metric ahead of usage (shared-library pages charged elsewhere): earlier than the limit.
  values.pss = 90 * kArmMiB;
  values.cgroup = 85 * kArmMiB;
  EXPECT_EQ(usage_target(arming, values, 1 * kArmMiB).wake_at, (85 + 10 - 1) * kArmMiB);
  // Within the slack: near, woken at the next growth the kernel checks.
  values.pss = 99 * kArmMiB + 512 * 1024;
  target = usage_target(arming, values, 1 * kArmMiB);
  EXPECT_TRUE(target.near);
  EXPECT_EQ(target.wake_at, 85 * kArmMiB + 4096);
  // Past the limit: the rule decides; the next wake-up is for critical.
  values.pss = 100 * kArmMiB;
  target = usage_target(arming, values, 1 * kArmMiB);
  EXPECT_FALSE(target.near);
  EXPECT_EQ(target.wake_at, (85 + 100 - 1) * kArmMiB);
  values.pss = 200 * kArmMiB;
  EXPECT_EQ(usage_target(arming, values, 1 * kArmMiB).wake_at, std::nullopt);
  EXPECT_EQ(usage_target(KernelArming{}, values).wake_at, std::nullopt);
}

TEST(KernelThresholds, MemoryMaxIsASizeOrCriticalPlusTenPercent) {
  ServiceConfig service = with_limits();
  EXPECT_FALSE(effective_memory_max(service));
  service.memory_max = 300 * kArmMiB;
  EXPECT_EQ(effective_memory_max(service), 300 * kArmMiB);
  service.memory_max = 0;
  service.memory_max_auto = true;
  EXPECT_EQ(effective_memory_max(service), 220 * kArmMiB);
  service.memory.critical.reset();
  EXPECT_FALSE(effective_memory_max(service));
}

TEST(KernelThresholds, CgroupWritesPerVersion) {
  ServiceConfig service = with_limits();
  EXPECT_TRUE(cgroup_limit_writes(service, false).empty());  // no memory_max: nothing written
  EXPECT_TRUE(cgroup_limit_writes(service, true).empty());
  service.memory_max = 300 * kArmMiB;
  EXPECT_EQ(cgroup_limit_writes(service, false),
            (std::vector<CgroupWrite>{{"memory.limit_in_bytes", 300 * kArmMiB}}));
  // v2: memory.high at the limit, the crossing memory.events reports.
  EXPECT_EQ(
      cgroup_limit_writes(service, true),
      (std::vector<CgroupWrite>{{"memory.max", 300 * kArmMiB}, {"memory.high", 100 * kArmMiB}}));
  // Nothing to arm: memory.high at 90% of memory_max.
  service.memory.limit.reset();
  service.memory.critical.reset();
  EXPECT_EQ(
      cgroup_limit_writes(service, true),
      (std::vector<CgroupWrite>{{"memory.max", 300 * kArmMiB}, {"memory.high", 270 * kArmMiB}}));
  service.cgroup = false;
  EXPECT_TRUE(cgroup_limit_writes(service, true).empty());
}

}  // namespace
}  // namespace memvisor

#pragma GCC diagnostic pop
