// Gauges of one process: named numbers a worker reports over the worker protocol, or an exec
// monitor reads, each with its latest value and a series kept beside the memory series (one value
// per memory sample while the gauge is fresh). Bounded: at most kMaxNames names per process, each
// report O(log kMaxNames), so a worker flooding gauge lines cannot grow the supervisor.
#pragma once

#include <cstddef>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/config/metric_name.h"  // valid_gauge_name

namespace memvisor {

struct GaugePoint {
  double t_s = 0;  // seconds since the process started, as the memory samples
  double value = 0;
};

class GaugeStore {
 public:
  static constexpr size_t kMaxNames = 32;
  // A gauge with no value for this many of its expected periods (the longer of the memory
  // interval and the gap between its own last two reports) is stale: shown, not judged.
  static constexpr double kStalePeriods = 3;

  struct Gauge {
    double value = 0;
    double at_s = 0;   // steady seconds of the last report
    double gap_s = 0;  // between its last two reports; 0 after the first
    std::deque<GaugePoint> series;
  };

  // Records `value` for `name` at steady time `now_s`. False (nothing stored) when `name` is new
  // and the process already has kMaxNames gauges.
  bool set(std::string_view name, double value, double now_s);
  // Whether `name` would be refused by set() (new, and the process is full).
  bool full_for(std::string_view name) const;

  // The value of `name` when it is fresh at `now_s` given the memory `interval_s`; nothing when it
  // never came or went stale.
  std::optional<double> fresh(std::string_view name, double now_s, double interval_s) const;
  bool has(std::string_view name) const { return gauges_.find(name) != gauges_.end(); }

  // A memory sample round at `t_s` (process time): every fresh gauge adds its value to its series,
  // which keeps at most `max_points`.
  void sample(double t_s, double now_s, double interval_s, size_t max_points);

  const std::map<std::string, Gauge, std::less<>>& all() const { return gauges_; }
  bool empty() const { return gauges_.empty(); }

 private:
  static bool is_fresh(const Gauge& gauge, double now_s, double interval_s);
  std::map<std::string, Gauge, std::less<>> gauges_;
};

}  // namespace memvisor
