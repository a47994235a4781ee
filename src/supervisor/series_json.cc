// See series_json.h.
#include "supervisor/series_json.h"

#include <algorithm>
#include <cmath>

#include "core/observe/unit_name.h"
#include "core/rules/memory_rules.h"

namespace memvisor {
namespace {

// Milliseconds are as fine as any sampling interval (100 ms at least); fewer digits on the wire.
double series_time(double started_at_s, double t_s) {
  return std::round((started_at_s + t_s) * 1000) / 1000;
}

template <typename Rule>
void add_size(nlohmann::json& json, const char* name, const std::optional<Rule>& rule,
              const MemoryMetric& shown) {
  if (!rule) {
    json[name] = nullptr;
    return;
  }
  json[name] = rule->size;
  if (rule->metric && !(*rule->metric == shown)) {
    json[std::string(name) + "_metric"] = to_string(*rule->metric);
  }
}

}  // namespace

nlohmann::json series_json(const ServiceConfig& service, const SeriesUnit& unit, size_t points) {
  points = std::clamp<size_t>(points, 1, kSeriesMaxPoints);
  const MemoryRules& rules = service.memory;
  nlohmann::json json = {{"unit", unit_name(unit.service, unit.instance, unit.child)},
                         {"service", unit.service},
                         {"instance", unit.instance},
                         {"generation", unit.generation},
                         {"child", unit.child},
                         {"pid", unit.pid},
                         {"primary", unit.primary},
                         {"started_at", unit.started_at_s},
                         {"metric", to_string(rules.metric)},
                         {"interval_ms", rules.interval.count()}};
  nlohmann::json t = nlohmann::json::array();
  nlohmann::json values = nlohmann::json::array();
  if (rules.metric.is_gauge()) {
    // A gauge's series is kept beside the memory series, one value per sample while fresh. A
    // pre-fork child has no gauges of its own: its series stays empty.
    if (unit.gauges != nullptr && unit.child == 0) {
      const auto& all = unit.gauges->all();
      if (auto found = all.find(rules.metric.gauge()); found != all.end()) {
        const auto& series = found->second.series;
        const size_t skip = series.size() > points ? series.size() - points : 0;
        for (auto it = series.begin() + static_cast<std::ptrdiff_t>(skip); it != series.end();
             ++it) {
          t.push_back(series_time(unit.started_at_s, it->t_s));
          values.push_back(it->value);
        }
      }
    }
  } else if (unit.samples != nullptr) {
    const auto& series = *unit.samples;
    const size_t skip = series.size() > points ? series.size() - points : 0;
    for (auto it = series.begin() + static_cast<std::ptrdiff_t>(skip); it != series.end(); ++it) {
      t.push_back(series_time(unit.started_at_s, it->t_s));
      values.push_back(value_of(rules.metric, it->values));
    }
  }
  json["t"] = std::move(t);
  json["values"] = std::move(values);
  add_size(json, "warn", rules.warn, rules.metric);
  add_size(json, "limit", rules.limit, rules.metric);
  add_size(json, "critical", rules.critical, rules.metric);
  json["leak_rate_bytes_per_hour"] =
      rules.leak ? nlohmann::json(rules.leak->rate_bytes_per_hour) : nlohmann::json(nullptr);
  if (rules.leak && rules.leak->metric && !(*rules.leak->metric == rules.metric)) {
    json["leak_metric"] = to_string(*rules.leak->metric);
  }
  // The slope once the leak rule has judged a span; its reason either way.
  json["leak_slope_bytes_per_hour"] = nullptr;
  if (unit.leak != nullptr) {
    if (unit.leak->span_s > 0) json["leak_slope_bytes_per_hour"] = unit.leak->slope_bytes_per_hour;
    json["leak_reason"] = unit.leak->reason;
  }
  return json;
}

}  // namespace memvisor
