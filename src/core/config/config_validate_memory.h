// Checks on the memory rules, surge and totals, shared by the TOML reader, the JSON hand-off and
// the command-line flags, so that all three reject the same values with the same words.
#pragma once

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>

#include "core/config/config.h"
#include "core/config/config_validate.h"

namespace memvisor {

inline constexpr Millis kMinInterval{100};
inline constexpr Millis kMaxInterval{3'600'000};
inline constexpr Millis kMaxLeakSample{3'600'000};
inline constexpr Millis kMaxLeakWarmup{7 * 86'400'000};
inline constexpr int64_t kMaxLimitSamples = 1'000'000;
// Half the range, so that max + jitter (jitter ≤ max) can never overflow at runtime.
inline constexpr int64_t kMaxRequests = std::numeric_limits<int64_t>::max() / 2;

// What a requests or age rule gets when the file leaves jitter out: a tenth of max.
inline int64_t default_jitter(int64_t max) {
  return max / 10;
}
inline Millis default_jitter(Millis max) {
  return max / 10;
}

// Per-value checks. Each says what is wrong, without the field name, or returns nothing.
std::optional<std::string> check_size(uint64_t bytes);
std::optional<std::string> check_rate(uint64_t bytes_per_hour);
std::optional<std::string> check_interval(Millis interval);
std::optional<std::string> check_limit_samples(int64_t samples);
std::optional<std::string> check_leak_sample(Millis sample);
std::optional<std::string> check_leak_warmup(Millis warmup);
std::optional<std::string> check_requests_max(int64_t max);
std::optional<std::string> check_requests_jitter(int64_t jitter, int64_t max);
std::optional<std::string> check_age_max(Millis max);
std::optional<std::string> check_age_jitter(Millis jitter, Millis max);
std::optional<std::string> check_max_recycling(int64_t count);

// Two per-instance size rules on the same metric, out of order: warn above limit, limit above
// critical, or warn above critical. Equal is fine.
struct SizeOrderProblem {
  std::string_view lower;  // "warn" or "limit"
  uint64_t lower_size = 0;
  std::string_view upper;  // "limit" or "critical"
  uint64_t upper_size = 0;

  // On the upper key, "critical: expected at least warn (2GiB), got 1GiB", or on the lower one,
  // "warn: expected at most critical (1GiB), got 2GiB". A file blames whichever comes later.
  ConfigProblem blame(bool on_lower) const;
};
std::optional<SizeOrderProblem> find_size_order_problem(const MemoryRules& rules);

// The first problem with a size rule's own values; field is where the rule is ("total"), the
// problem's field is below it ("total.size").
std::optional<ConfigProblem> check_size_rule(std::string_view field, const SizeRule& rule);

// The first problem with a service's memory rules, surge and max_recycling, each value on its
// own (the order of the sizes is check_service_together's). The field is relative to the service.
std::optional<ConfigProblem> find_memory_problem(const ServiceConfig& service);

// For describe_config: " [limit 500MiB, leak 10MiB/h, age 6h]", or "" without rules.
std::string describe_memory_rules(const MemoryRules& rules);

}  // namespace memvisor
