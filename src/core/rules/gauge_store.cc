#include "core/rules/gauge_store.h"

#include <algorithm>

namespace memvisor {

bool GaugeStore::full_for(std::string_view name) const {
  return gauges_.size() >= kMaxNames && gauges_.find(name) == gauges_.end();
}

bool GaugeStore::set(std::string_view name, double value, double now_s) {
  auto found = gauges_.find(name);
  if (found == gauges_.end()) {
    if (gauges_.size() >= kMaxNames) return false;
    found = gauges_.emplace(std::string(name), Gauge{}).first;
    found->second.at_s = now_s;
  } else {
    // Reports come in bursts too (a flood keeps only the last); the gap that matters for
    // staleness is the reporter's period, so a burst does not shrink it.
    if (now_s - found->second.at_s > 0.05) found->second.gap_s = now_s - found->second.at_s;
    found->second.at_s = now_s;
  }
  found->second.value = value;
  return true;
}

bool GaugeStore::is_fresh(const Gauge& gauge, double now_s, double interval_s) {
  return now_s - gauge.at_s <= kStalePeriods * std::max(interval_s, gauge.gap_s);
}

std::optional<double> GaugeStore::fresh(std::string_view name, double now_s,
                                        double interval_s) const {
  auto found = gauges_.find(name);
  if (found == gauges_.end() || !is_fresh(found->second, now_s, interval_s)) return std::nullopt;
  return found->second.value;
}

void GaugeStore::sample(double t_s, double now_s, double interval_s, size_t max_points) {
  for (auto& [name, gauge] : gauges_) {
    if (!is_fresh(gauge, now_s, interval_s)) continue;
    gauge.series.push_back({t_s, gauge.value});
    if (gauge.series.size() > max_points) gauge.series.pop_front();
  }
}

}  // namespace memvisor
