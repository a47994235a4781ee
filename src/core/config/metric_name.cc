#include "core/config/metric_name.h"

#include <algorithm>
#include <deque>
#include <map>
#include <mutex>

#include "core/config/config_names.h"

namespace memvisor {

namespace {

// Interned gauge names: id N is names[N - 1]. Names come from config files and flags, so the
// table stays as small as the set of gauges rules were ever written for; a deque keeps every
// name where it is, so the views handed out stay valid.
struct GaugeNames {
  std::mutex mutex;
  std::deque<std::string> names;
  std::map<std::string, uint32_t, std::less<>> ids;
};

GaugeNames& gauge_names() {
  static GaugeNames* table = new GaugeNames;  // never destroyed: views outlive static teardown
  return *table;
}

}  // namespace

MemoryMetric MemoryMetric::of_gauge(std::string_view name) {
  GaugeNames& table = gauge_names();
  std::lock_guard lock(table.mutex);
  MemoryMetric metric(MetricKind::gauge);
  if (auto found = table.ids.find(name); found != table.ids.end()) {
    metric.gauge_id = found->second;
    return metric;
  }
  table.names.emplace_back(name);
  metric.gauge_id = static_cast<uint32_t>(table.names.size());
  table.ids.emplace(table.names.back(), metric.gauge_id);
  return metric;
}

std::string_view MemoryMetric::gauge() const {
  if (gauge_id == 0) return {};
  GaugeNames& table = gauge_names();
  std::lock_guard lock(table.mutex);
  return table.names[gauge_id - 1];
}

bool valid_gauge_name(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  auto letter = [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
  };
  if (!letter(name[0])) return false;
  return std::all_of(name.begin() + 1, name.end(),
                     [&](char c) { return letter(c) || (c >= '0' && c <= '9'); });
}

std::string metric_name(const MemoryMetric& metric) {
  if (metric.is_gauge()) return std::string(kGaugePrefix) + std::string(metric.gauge());
  return std::string(enum_name(kMemoryMetricNames, metric.kind));
}

std::string metric_choices() {
  return "one of " + enum_choices(kMemoryMetricNames) + ", or gauge:NAME";
}

std::optional<MemoryMetric> parse_metric(std::string_view text, std::string& why) {
  if (text.starts_with(kGaugePrefix)) {
    const std::string_view name = text.substr(kGaugePrefix.size());
    if (valid_gauge_name(name)) return MemoryMetric::of_gauge(name);
    why =
        "expected gauge:NAME with NAME matching [a-zA-Z_:][a-zA-Z0-9_:]* (at most 128 "
        "characters), got '" +
        std::string(text) + "'";
    return std::nullopt;
  }
  if (auto kind = enum_from_name(kMemoryMetricNames, text)) return MemoryMetric(*kind);
  why = "expected " + metric_choices() + ", got '" + std::string(text) + "'";
  return std::nullopt;
}

}  // namespace memvisor
