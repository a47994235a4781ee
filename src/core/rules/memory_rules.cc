#include "core/rules/memory_rules.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "core/config/config_names.h"
#include "core/config/metric_name.h"
#include "core/leak/state_codec.h"
#include "core/lifecycle/backoff.h"
#include "core/units.h"

namespace memvisor {

uint64_t value_of(MetricKind kind, const MemoryValues& values) {
  switch (kind) {
    case MetricKind::pss:
      return values.pss;
    case MetricKind::rss:
      return values.rss;
    case MetricKind::uss:
      return values.uss;
    case MetricKind::anon:
      return values.anon;
    case MetricKind::swap:
      return values.swap;
    case MetricKind::cgroup:
      return values.cgroup;
    case MetricKind::gauge:
      return 0;
  }
  return 0;
}

std::string to_string(const MemoryMetric& metric) {
  return metric_name(metric);
}

namespace {

// The gauges a service's rules read, each once, in rule order.
std::vector<std::string> gauges_read_by(const MemoryRules& rules) {
  std::vector<std::string> names;
  auto add = [&](const std::optional<MemoryMetric>& own) {
    const MemoryMetric& metric = own ? *own : rules.metric;
    if (!metric.is_gauge()) return;
    if (std::find(names.begin(), names.end(), metric.gauge()) == names.end()) {
      names.emplace_back(metric.gauge());
    }
  };
  if (rules.critical) add(rules.critical->metric);
  if (rules.warn) add(rules.warn->metric);
  if (rules.limit) add(rules.limit->metric);
  if (rules.leak) add(rules.leak->metric);
  return names;
}

LeakDetectorConfig leak_detector_config(const LeakRule& rule) {
  LeakDetectorConfig config;
  config.rate_bytes_per_hour = static_cast<double>(rule.rate_bytes_per_hour);
  config.warmup_s = static_cast<double>(rule.warmup.count()) / 1000;
  return config;
}

}  // namespace

ProcessRules::ProcessRules(const ServiceConfig& service, double jitter_draw)
    : service_(&service), jitter_draw_(jitter_draw), gauges_read_(gauges_read_by(service.memory)) {
  if (service.memory.leak) leak_.emplace(leak_detector_config(*service.memory.leak));
}

void ProcessRules::reconfigure(const ServiceConfig& service) {
  service_ = &service;
  gauges_read_ = gauges_read_by(service.memory);
  const auto& leak = service.memory.leak;
  if (!leak) {
    leak_.reset();
    leak_waiting_ = false;
  } else if (!leak_) {
    leak_.emplace(leak_detector_config(*leak));
  } else {
    const LeakDetectorConfig config = leak_detector_config(*leak);
    leak_->set_rule(config.rate_bytes_per_hour, config.warmup_s);
  }
  if (!service.memory.limit) above_limit_ = 0;
}

namespace {

RuleDecision size_decision(std::string rule, std::string action, const MemoryMetric& metric,
                           double value, uint64_t threshold, std::string message) {
  RuleDecision decision;
  decision.rule = std::move(rule);
  decision.action = std::move(action);
  decision.metric = to_string(metric);
  decision.value = value;
  decision.threshold = static_cast<double>(threshold);
  decision.message = std::move(message);
  return decision;
}

}  // namespace

namespace {

// A figure as a message shows it: a size for memory and for gauges in bytes, else the number.
std::string format_metric_value(const MemoryMetric& metric, double value) {
  if (!metric.is_gauge() || metric.gauge().ends_with("_bytes")) {
    return format_size(static_cast<uint64_t>(std::max(0.0, value)));
  }
  return fmt::format("{}", value);
}

}  // namespace

std::vector<RuleDecision> ProcessRules::on_sample(double t_s, const MemoryValues& values,
                                                  const GaugeValues* gauges) {
  std::vector<RuleDecision> decisions;
  const MemoryRules& rules = service_->memory;
  auto metric_of = [&](const std::optional<MemoryMetric>& m) -> const MemoryMetric& {
    return m ? *m : rules.metric;
  };
  // What a rule reads now; nothing for a gauge without a fresh value (the rule is not judged).
  auto read = [&](const MemoryMetric& metric) -> std::optional<double> {
    if (!metric.is_gauge()) return static_cast<double>(value_of(metric.kind, values));
    if (gauges == nullptr) return std::nullopt;
    auto found = gauges->find(metric.gauge());
    if (found == gauges->end() || !std::isfinite(found->second)) return std::nullopt;
    return found->second;
  };
  auto shown = [](const MemoryMetric& metric, double value) {
    return format_metric_value(metric, value);
  };

  if (rules.critical && !acted_) {
    const MemoryMetric& metric = metric_of(rules.critical->metric);
    const auto value = read(metric);
    if (value && *value > static_cast<double>(rules.critical->size)) {
      acted_ = true;
      decisions.push_back(
          size_decision("critical", "critical", metric, *value, rules.critical->size,
                        fmt::format("{} {} is above critical {}: stopping now", to_string(metric),
                                    shown(metric, *value),
                                    shown(metric, static_cast<double>(rules.critical->size)))));
      return decisions;  // nothing else matters for a process being stopped
    }
  }
  if (rules.warn && !warned_) {
    const MemoryMetric& metric = metric_of(rules.warn->metric);
    const auto value = read(metric);
    if (value && *value > static_cast<double>(rules.warn->size)) {
      warned_ = true;
      decisions.push_back(size_decision(
          "warn", "warn", metric, *value, rules.warn->size,
          fmt::format("{} {} is above warn {}", to_string(metric), shown(metric, *value),
                      shown(metric, static_cast<double>(rules.warn->size)))));
    }
  }
  if (rules.limit) {
    const MemoryMetric& metric = metric_of(rules.limit->metric);
    // A gauge with no fresh value leaves the count of samples above as it was.
    if (const auto value = read(metric)) {
      above_limit_ = *value > static_cast<double>(rules.limit->size) ? above_limit_ + 1 : 0;
      if (above_limit_ >= rules.limit->samples && !acted_ && t_s >= recycle_after_s_) {
        acted_ = true;
        decisions.push_back(size_decision(
            "limit", "recycle", metric, *value, rules.limit->size,
            fmt::format("{} {} above limit {} for {} samples", to_string(metric),
                        shown(metric, *value),
                        shown(metric, static_cast<double>(rules.limit->size)), above_limit_)));
      }
    }
  }
  if (leak_) {
    const MemoryMetric& metric = metric_of(rules.leak->metric);
    const auto value = read(metric);
    if (!value) return decisions;  // a gauge without a fresh value: no point for the trend
    leak_->add(t_s, *value);
    const LeakAssessment& verdict = leak_->assess();
    const bool recycle = rules.leak->action == LeakAction::recycle;
    if (verdict.leaking &&
        (recycle ? !acted_ && !leak_waiting_ && t_s >= recycle_after_s_ : !leak_alerted_)) {
      leak_alerted_ = true;
      if (recycle) (rules.leak->sample.count() > 0 ? leak_waiting_ : acted_) = true;
      RuleDecision decision = size_decision(
          "leak", recycle ? "recycle" : "alert", metric, *value, rules.leak->rate_bytes_per_hour,
          fmt::format(
              "{} floor growing {}/h (at least {}/h with {:.1f}% confidence) over {}",
              to_string(metric),
              format_size(static_cast<uint64_t>(std::max(0.0, verdict.slope_bytes_per_hour))),
              format_size(static_cast<uint64_t>(std::max(0.0, verdict.slope_low_bytes_per_hour))),
              verdict.confidence * 100,
              format_duration(Millis(static_cast<int64_t>(verdict.span_s * 1000)))));
      decision.slope_bytes_per_hour = verdict.slope_bytes_per_hour;
      decision.confidence = verdict.confidence;
      decisions.push_back(std::move(decision));
    }
  }
  return decisions;
}

void ProcessRules::allow_again(double t_s) {
  acted_ = false;
  leak_waiting_ = false;
  const BackoffPolicy pause{service_->restart_delay, service_->restart_backoff,
                            service_->restart_delay_max};
  recycle_after_s_ =
      t_s + std::chrono::duration<double>(backoff_delay(pause, ++failed_recycles_)).count();
}

std::vector<RuleDecision> ProcessRules::on_progress(double uptime_s, int64_t requests,
                                                    bool by_age) {
  std::vector<RuleDecision> decisions;
  if (acted_ || uptime_s < recycle_after_s_) return decisions;
  const MemoryRules& rules = service_->memory;
  if (rules.age && by_age) {
    const double max_s = static_cast<double>(rules.age->max.count()) / 1000 +
                         jitter_draw_ * static_cast<double>(rules.age->jitter.count()) / 1000;
    if (uptime_s >= max_s) {
      acted_ = true;
      RuleDecision decision;
      decision.rule = "age";
      decision.action = "recycle";
      decision.metric = "uptime";
      decision.value = uptime_s;
      decision.threshold = max_s;
      decision.message = fmt::format("up {}, past its age limit {} (with jitter)",
                                     format_duration(Millis(static_cast<int64_t>(uptime_s * 1000))),
                                     format_duration(Millis(static_cast<int64_t>(max_s * 1000))));
      decisions.push_back(std::move(decision));
      return decisions;
    }
  }
  if (const auto limit = requests_limit()) {
    const double max = static_cast<double>(*limit);
    if (static_cast<double>(requests) >= max) {
      acted_ = true;
      RuleDecision decision;
      decision.rule = "requests";
      decision.action = "recycle";
      decision.metric = "requests";
      decision.value = static_cast<double>(requests);
      decision.threshold = max;
      decision.message =
          fmt::format("served {} requests, its limit is {} (with jitter)", requests, max);
      decisions.push_back(std::move(decision));
    }
  }
  return decisions;
}

std::optional<int64_t> ProcessRules::requests_limit() const {
  const auto& rule = service_->memory.requests;
  if (!rule) return std::nullopt;
  return static_cast<int64_t>(static_cast<double>(rule->max) +
                              std::floor(jitter_draw_ * static_cast<double>(rule->jitter + 1)));
}

double ProcessRules::leak_slope_bytes_per_second() const {
  return leak_ ? leak_->slope_bytes_per_second() : 0;
}

uint64_t ProcessRules::leak_verdicts() const {
  return leak_ ? leak_->verdicts() : 0;
}

const LeakAssessment* ProcessRules::leak_assessment() const {
  return leak_ ? &leak_->assess() : nullptr;
}

std::optional<size_t> choose_total_victim(const SizeRule& rule, const MemoryMetric& default_metric,
                                          const std::vector<MemoryValues>& members, uint64_t* sum) {
  // Validation refuses a gauge here (a sum of one process's numbers over instances means
  // nothing); value_of reads a gauge as 0, so the rule would never act.
  const MemoryMetric& metric = rule.metric ? *rule.metric : default_metric;
  uint64_t total = 0;
  for (const auto& member : members) total += value_of(metric, member);
  if (sum != nullptr) *sum = total;
  if (total <= rule.size || members.empty()) return std::nullopt;
  size_t victim = 0;
  for (size_t i = 1; i < members.size(); ++i) {
    if (members[i].uss > members[victim].uss) victim = i;
  }
  return victim;
}

namespace {
constexpr uint32_t kRulesStateVersion = 1;
}  // namespace

std::string ProcessRules::save_state() const {
  StateWriter out;
  out.u32(kRulesStateVersion);
  out.f64(jitter_draw_);
  out.boolean(warned_);
  out.boolean(acted_);
  out.boolean(leak_alerted_);
  out.boolean(leak_waiting_);
  out.i64(above_limit_);
  out.boolean(leak_.has_value());
  if (leak_) {
    StateWriter leak;
    leak_->save(leak);
    out.bytes(leak.data());
  }
  return std::move(out).data();
}

bool ProcessRules::restore_state(std::string_view state) {
  StateReader in(state);
  if (in.u32() != kRulesStateVersion) return false;
  const double jitter = in.f64();
  const bool warned = in.boolean(), acted = in.boolean(), leak_alerted = in.boolean(),
             leak_waiting = in.boolean();
  const int64_t above_limit = in.i64();
  const bool has_leak = in.boolean();
  const std::string_view leak = has_leak ? in.bytes() : std::string_view();
  if (!in.ok() || in.remaining() != 0 || !(jitter >= 0 && jitter < 1) || above_limit < 0 ||
      above_limit > 1000000) {
    return false;
  }
  if (leak_ && has_leak) {
    // Decoded into a copy first, so a bad leak state leaves this detector as it was.
    LeakDetector restored = *leak_;
    StateReader leak_in(leak);
    if (!restored.restore(leak_in) || leak_in.remaining() != 0) return false;
    *leak_ = std::move(restored);
    const LeakDetectorConfig config = leak_detector_config(*service_->memory.leak);
    leak_->set_rule(config.rate_bytes_per_hour, config.warmup_s);
  }
  jitter_draw_ = jitter;
  warned_ = warned;
  acted_ = acted;
  leak_alerted_ = leak_alerted;
  leak_waiting_ = leak_waiting && leak_.has_value();
  above_limit_ = service_->memory.limit ? static_cast<int>(above_limit) : 0;
  return true;
}

}  // namespace memvisor
