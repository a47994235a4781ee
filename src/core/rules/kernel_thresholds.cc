// Which rules the kernel can watch, and the limits memvisor writes for it (kernel_thresholds.h).
#include "core/rules/kernel_thresholds.h"

#include <fmt/format.h>

#include <algorithm>

namespace memvisor {
namespace {

std::string_view kernel_metric_name(MetricKind kind) {
  switch (kind) {
    case MetricKind::pss:
      return "pss";
    case MetricKind::rss:
      return "rss";
    case MetricKind::uss:
      return "uss";
    case MetricKind::anon:
      return "anon";
    case MetricKind::swap:
      return "swap";
    case MetricKind::cgroup:
      return "cgroup";
    case MetricKind::gauge:
      return "a gauge";
  }
  return "?";
}

}  // namespace

bool kernel_measurable(MetricKind metric) {
  return metric != MetricKind::swap && metric != MetricKind::gauge;
}

KernelArming kernel_thresholds(const ServiceConfig& service) {
  KernelArming arming;
  if (!service.cgroup) return arming;
  const MemoryRules& rules = service.memory;
  auto consider = [&](std::string_view rule, uint64_t bytes,
                      const std::optional<MemoryMetric>& metric) {
    const MetricKind kind = metric.value_or(rules.metric).kind;
    if (kernel_measurable(kind)) {
      arming.thresholds.push_back({std::string(rule), kind, bytes});
    } else {
      arming.not_armed.push_back(fmt::format("{} reads {}, which the cgroup's usage does not bound",
                                             rule, kernel_metric_name(kind)));
    }
  };
  if (service.prefork) {
    if (rules.limit || rules.critical) {
      arming.not_armed.push_back(
          "prefork = true: each child is judged on its own, the instance's cgroup holds them all");
    }
    return arming;
  }
  if (rules.limit) consider("limit", rules.limit->size, rules.limit->metric);
  if (rules.critical) consider("critical", rules.critical->size, rules.critical->metric);
  std::stable_sort(
      arming.thresholds.begin(), arming.thresholds.end(),
      [](const KernelThreshold& a, const KernelThreshold& b) { return a.bytes < b.bytes; });
  return arming;
}

bool above_armed(const KernelArming& arming, const MemoryValues& values) {
  for (const KernelThreshold& threshold : arming.thresholds) {
    if (value_of(threshold.metric, values) >= threshold.bytes) return true;
  }
  return false;
}

UsageTarget usage_target(const KernelArming& arming, const MemoryValues& values, uint64_t slack) {
  constexpr uint64_t kPage = 4096;
  UsageTarget target;
  for (const KernelThreshold& threshold : arming.thresholds) {
    const uint64_t metric = value_of(threshold.metric, values);
    if (metric >= threshold.bytes) continue;
    const uint64_t gap = threshold.bytes - metric;
    uint64_t at = values.cgroup + kPage;
    if (gap <= slack) {
      target.near = true;
    } else {
      at = std::max(at, values.cgroup + (gap - slack));
    }
    if (!target.wake_at || at < *target.wake_at) target.wake_at = at;
  }
  return target;
}

std::optional<uint64_t> effective_memory_max(const ServiceConfig& service) {
  if (service.memory_max_auto) {
    if (!service.memory.critical) return std::nullopt;
    return service.memory.critical->size + service.memory.critical->size / 10;
  }
  if (service.memory_max == 0) return std::nullopt;
  return service.memory_max;
}

std::vector<CgroupWrite> cgroup_limit_writes(const ServiceConfig& service, bool cgroup_v2) {
  const auto max = effective_memory_max(service);
  if (!max || !service.cgroup) return {};
  if (!cgroup_v2) return {{"memory.limit_in_bytes", *max}};
  uint64_t high = *max / 10 * 9;
  const KernelArming arming = kernel_thresholds(service);
  if (!arming.thresholds.empty()) high = std::min(*max, arming.thresholds.front().bytes);
  return {{"memory.max", *max}, {"memory.high", high}};
}

}  // namespace memvisor
