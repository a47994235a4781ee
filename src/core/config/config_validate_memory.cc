// Validation of the memory rules. Sizes and rates are shown exactly ("1.5GiB", not "1.5 GiB"),
// so a message quotes back what can be written in the file.
#include "core/config/config_validate_memory.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <utility>
#include <vector>

#include "core/config/config_names.h"
#include "core/config/config_validate.h"
#include "core/config/metric_name.h"
#include "core/units.h"

namespace memvisor {
namespace {

std::string duration(Millis value) {
  return format_duration_exact(value);
}

std::optional<std::string> check_metric(const std::optional<MemoryMetric>& metric) {
  if (!metric) return std::nullopt;
  if (metric->is_gauge()) {
    if (valid_gauge_name(metric->gauge)) return std::nullopt;
    return "expected gauge:NAME with NAME matching [a-zA-Z_:][a-zA-Z0-9_:]* (at most 128 "
           "characters), got '" +
           metric_name(*metric) + "'";
  }
  if (enum_name(kMemoryMetricNames, metric->kind) != "?") return std::nullopt;
  return "expected " + metric_choices();
}

std::optional<std::string> check_duration_up_to(Millis value, Millis max) {
  if (value < Millis{0}) {
    return fmt::format("expected a duration of at least 0, got {}", duration(value));
  }
  if (value > max) {
    return fmt::format("expected a duration of at most {}, got {}", duration(max), duration(value));
  }
  return std::nullopt;
}

// A rule's own metric, or else the service's.
const MemoryMetric& metric_of(const MemoryRules& rules, const std::optional<MemoryMetric>& own) {
  return own ? *own : rules.metric;
}

}  // namespace

std::optional<std::string> check_size(uint64_t bytes) {
  if (bytes > 0) return std::nullopt;
  return "expected a size greater than 0, got 0B";
}

std::optional<std::string> check_rate(uint64_t bytes_per_hour) {
  if (bytes_per_hour > 0) return std::nullopt;
  return "expected a rate greater than 0, got 0B/h";
}

std::optional<std::string> check_interval(Millis interval) {
  if (interval < kMinInterval) {
    return fmt::format("expected a duration of at least {}, got {}", duration(kMinInterval),
                       duration(interval));
  }
  if (interval > kMaxInterval) {
    return fmt::format("expected a duration of at most {}, got {}", duration(kMaxInterval),
                       duration(interval));
  }
  return std::nullopt;
}

std::optional<std::string> check_limit_samples(int64_t samples) {
  if (samples < 1) return expected_positive_integer(samples);
  if (samples > kMaxLimitSamples) {
    return fmt::format("expected at most {} samples, got {}", kMaxLimitSamples, samples);
  }
  return std::nullopt;
}

std::optional<std::string> check_leak_sample(Millis sample) {
  return check_duration_up_to(sample, kMaxLeakSample);
}

std::optional<std::string> check_leak_warmup(Millis warmup) {
  return check_duration_up_to(warmup, kMaxLeakWarmup);
}

std::optional<std::string> check_requests_max(int64_t max) {
  if (max < 1) return expected_positive_integer(max);
  if (max > kMaxRequests) return fmt::format("expected at most {}, got {}", kMaxRequests, max);
  return std::nullopt;
}

std::optional<std::string> check_requests_jitter(int64_t jitter, int64_t max) {
  if (jitter >= 0 && jitter <= max) return std::nullopt;
  return fmt::format("expected between 0 and max ({}), got {}", max, jitter);
}

std::optional<std::string> check_age_max(Millis max) {
  if (max <= Millis{0}) {
    return fmt::format("expected a duration greater than 0, got {}", duration(max));
  }
  if (max > kMaxDuration) {
    return fmt::format("expected a duration of at most 3650d, got {}", duration(max));
  }
  return std::nullopt;
}

std::optional<std::string> check_age_jitter(Millis jitter, Millis max) {
  if (jitter >= Millis{0} && jitter <= max) return std::nullopt;
  return fmt::format("expected a duration between 0 and max ({}), got {}", duration(max),
                     duration(jitter));
}

std::optional<std::string> check_max_recycling(int64_t count) {
  if (count < 1) return expected_positive_integer(count);
  // More than a service can have instances is a typo; fewer than it has is fine (clamped).
  if (count > kMaxInstances)
    return fmt::format("expected at most {}, got {}", kMaxInstances, count);
  return std::nullopt;
}

ConfigProblem SizeOrderProblem::blame(bool on_lower) const {
  if (on_lower) {
    return ConfigProblem{std::string(lower),
                         fmt::format("expected at most {} ({}), got {}", upper,
                                     format_size_exact(upper_size), format_size_exact(lower_size))};
  }
  return ConfigProblem{std::string(upper),
                       fmt::format("expected at least {} ({}), got {}", lower,
                                   format_size_exact(lower_size), format_size_exact(upper_size))};
}

std::optional<SizeOrderProblem> find_size_order_problem(const MemoryRules& rules) {
  struct Level {
    std::string_view name;
    uint64_t size;
    MemoryMetric metric;
  };
  std::vector<Level> levels;  // rising order: warn, limit, critical
  if (rules.warn)
    levels.push_back({"warn", rules.warn->size, metric_of(rules, rules.warn->metric)});
  if (rules.limit) {
    levels.push_back({"limit", rules.limit->size, metric_of(rules, rules.limit->metric)});
  }
  if (rules.critical) {
    levels.push_back({"critical", rules.critical->size, metric_of(rules, rules.critical->metric)});
  }
  // Neighbours first (warn/limit, limit/critical), then warn/critical, which only matters when
  // the limit reads another metric.
  for (size_t gap = 1; gap < levels.size(); ++gap) {
    for (size_t i = 0; i + gap < levels.size(); ++i) {
      const Level& low = levels[i];
      const Level& high = levels[i + gap];
      if (low.metric == high.metric && low.size > high.size) {
        return SizeOrderProblem{low.name, low.size, high.name, high.size};
      }
    }
  }
  return std::nullopt;
}

std::optional<ConfigProblem> check_size_rule(std::string_view field, const SizeRule& rule) {
  if (auto what = check_size(rule.size)) return ConfigProblem{fmt::format("{}.size", field), *what};
  if (auto what = check_metric(rule.metric)) {
    return ConfigProblem{fmt::format("{}.metric", field), *what};
  }
  return std::nullopt;
}

std::optional<ConfigProblem> find_memory_problem(const ServiceConfig& s) {
  const MemoryRules& m = s.memory;
  std::optional<ConfigProblem> problem;
  auto check = [&](std::string_view field, std::optional<std::string> what) {
    if (!problem && what) problem = ConfigProblem{std::string(field), *what};
  };
  check("interval", check_interval(m.interval));
  check("metric", check_metric(m.metric));
  for (const auto& [name, rule] : {std::pair{"warn", &m.warn}, std::pair{"critical", &m.critical},
                                   std::pair{"total", &m.total}}) {
    if (!problem && *rule) problem = check_size_rule(name, **rule);
  }
  // A gauge is one process's number: a sum over a service's instances of it means nothing.
  if (!problem && m.total && metric_of(m, m.total->metric).is_gauge()) {
    problem = ConfigProblem{m.total->metric ? "total.metric" : "total",
                            "the total rule sums memory over instances and cannot read a gauge "
                            "(give it metric = \"pss\" or another memory kind)"};
  }
  if (m.limit) {
    check("limit.size", check_size(m.limit->size));
    check("limit.for", check_limit_samples(m.limit->samples));
    check("limit.metric", check_metric(m.limit->metric));
  }
  if (m.leak) {
    check("leak.rate", check_rate(m.leak->rate_bytes_per_hour));
    if (enum_name(kLeakActionNames, m.leak->action) == "?")
      check("leak.action", "expected an action");
    check("leak.sample", check_leak_sample(m.leak->sample));
    check("leak.warmup", check_leak_warmup(m.leak->warmup));
    check("leak.metric", check_metric(m.leak->metric));
  }
  if (m.requests) {
    check("requests.max", check_requests_max(m.requests->max));
    check("requests.jitter", check_requests_jitter(m.requests->jitter, m.requests->max));
  }
  if (m.age) {
    check("age.max", check_age_max(m.age->max));
    check("age.jitter", check_age_jitter(m.age->jitter, m.age->max));
  }
  check("max_recycling", check_max_recycling(s.max_recycling));
  return problem;
}

std::string describe_memory_rules(const MemoryRules& m) {
  std::vector<std::string> rules;
  if (m.warn) rules.push_back("warn " + format_size_exact(m.warn->size));
  if (m.limit) rules.push_back("limit " + format_size_exact(m.limit->size));
  if (m.critical) rules.push_back("critical " + format_size_exact(m.critical->size));
  if (m.total) rules.push_back("total " + format_size_exact(m.total->size));
  if (m.leak) rules.push_back("leak " + format_size_exact(m.leak->rate_bytes_per_hour) + "/h");
  if (m.requests) rules.push_back(fmt::format("requests {}", m.requests->max));
  if (m.age) rules.push_back("age " + format_duration_exact(m.age->max));
  if (rules.empty()) return "";
  return fmt::format(" [{}]", fmt::join(rules, ", "));
}

}  // namespace memvisor
