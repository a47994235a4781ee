// The per-process memory rules (warn, limit, critical, leak, age, requests) as a pure state
// machine: samples and times go in, decisions come out. The supervisor and `memvisor replay` run
// exactly this code; the per-service and fleet-wide `total` rule is choose_total_victim.
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/leak/leak_detector.h"

namespace memvisor {

// One measurement of one process (or process tree), bytes.
struct MemoryValues {
  uint64_t rss = 0, pss = 0, uss = 0, swap = 0, anon = 0, cgroup = 0;
};
// A memory kind's figure (a gauge's is not in MemoryValues: 0).
uint64_t value_of(MetricKind kind, const MemoryValues& values);
inline uint64_t value_of(const MemoryMetric& metric, const MemoryValues& values) {
  return value_of(metric.kind, values);
}
std::string to_string(const MemoryMetric& metric);  // "pss", "gauge:heap_used_bytes"

// The fresh gauges of a process at one sample, by name. A gauge a rule reads that is not here
// (never reported, or stale) is not judged at that sample.
using GaugeValues = std::map<std::string, double, std::less<>>;

struct RuleDecision {
  std::string rule;    // warn | limit | critical | leak | age | requests | total
  std::string action;  // warn | alert | recycle | critical (stop now, crash report)
  std::string metric;  // the figure the rule read ("pss"), or "uptime" / "requests"
  double value = 0;
  double threshold = 0;
  std::optional<double> slope_bytes_per_hour;  // leak only
  std::optional<double> confidence;            // leak only
  std::string message;                         // one human sentence
};

class ProcessRules {
 public:
  // `jitter_draw` in [0, 1): this process's share of the configured jitter (age and requests), so
  // a pool started together does not recycle together. Drawn by the caller: no randomness here.
  ProcessRules(const ServiceConfig& service, double jitter_draw);

  // A memory sample at `t_s` seconds (any origin, non-decreasing) of a process up `uptime_s`.
  // Each decision that asks for an action is given once per process lifetime, a warn too.
  // `gauges`: the fresh gauges, needed only when gauges_read() is not empty.
  std::vector<RuleDecision> on_sample(double t_s, const MemoryValues& values,
                                      const GaugeValues* gauges = nullptr);
  // The gauges the rules read (metric = "gauge:NAME"), each once; empty for memory-only rules.
  const std::vector<std::string>& gauges_read() const { return gauges_read_; }
  // Age and request counts, checked on every sample and whenever counts change.
  // `by_age` false: the age rule does not apply (a pre-fork master, whose children are aged).
  std::vector<RuleDecision> on_progress(double uptime_s, int64_t requests, bool by_age = true);

  // The request count this process is recycled at (max plus its jitter share), if that rule is on.
  std::optional<int64_t> requests_limit() const;

  // A reload changed the service's rules: from now on they are `service`'s. The leak detector
  // keeps its history (a new rate judges it from the next verdict); a rule turned on starts
  // fresh, one turned off goes; what was already decided stays decided.
  void reconfigure(const ServiceConfig& service);

  double leak_slope_bytes_per_second() const;
  const LeakAssessment* leak_assessment() const;
  // Verdicts the leak rule has given so far (one per 30 s bucket); 0 without a leak rule.
  uint64_t leak_verdicts() const;
  double leak_rate_bytes_per_hour() const {
    return service_->memory.leak ? static_cast<double>(service_->memory.leak->rate_bytes_per_hour)
                                 : 0;
  }
  bool acted() const { return acted_; }  // a recycle, stop or alert was already decided

  // A supervisor checkpoint of this process's rules: what was already decided (so a restarted
  // supervisor neither repeats nor forgets a warn, a recycle, a leak alert), the jitter draw and
  // the leak detector's state. Versioned, see state_codec.h.
  std::string save_state() const;
  // From save_state() of the same process, under the current service config: false, and nothing
  // changed, when `state` cannot be read. A leak state with no leak rule now is dropped; a leak
  // rule with no saved state starts fresh; the current rate and warm-up apply.
  bool restore_state(std::string_view state);
  // A recycle that failed (its replacement could not start or never got ready) may be asked for
  // again: critical at once, the recycling rules after a pause that grows with each failure in
  // a row, as a crash's restart delay does (restart_delay, restart_backoff, restart_delay_max),
  // so a replacement that cannot start is not tried again on every sample. `t_s` is on the
  // clock of on_sample (and on_progress's uptime).
  void allow_again(double t_s);
  // A leak recycle that waits for its heap sample (leak.sample > 0) leaves the other rules free
  // to act during the window (critical must never wait for a sample); the caller says when it
  // finally asks for that recycle, and from then on it counts as decided.
  void recycle_requested() {
    acted_ = true;
    leak_waiting_ = false;
  }

 private:
  const ServiceConfig* service_;
  double jitter_draw_;
  bool warned_ = false;
  bool acted_ = false;
  bool leak_alerted_ = false;
  bool leak_waiting_ = false;  // a leak recycle was decided and waits for its heap sample
  int above_limit_ = 0;        // consecutive samples above limit.size
  int failed_recycles_ = 0;    // recycles asked for that failed, in a row
  double recycle_after_s_ = -std::numeric_limits<double>::infinity();  // see allow_again
  std::vector<std::string> gauges_read_;
  std::optional<LeakDetector> leak_;
};

// The `total` rule: while the sum of `metric` over `members` is above `rule.size`, the member
// with the largest private memory (USS) is recycled first, one at a time. Returns its index.
std::optional<size_t> choose_total_victim(const SizeRule& rule, const MemoryMetric& default_metric,
                                          const std::vector<MemoryValues>& members, uint64_t* sum);

}  // namespace memvisor
