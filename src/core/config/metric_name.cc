#include "core/config/metric_name.h"

#include <algorithm>

#include "core/config/config_names.h"

namespace memvisor {

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
  if (metric.is_gauge()) return std::string(kGaugePrefix) + metric.gauge;
  return std::string(enum_name(kMemoryMetricNames, metric.kind));
}

std::string metric_choices() {
  return "one of " + enum_choices(kMemoryMetricNames) + ", or gauge:NAME";
}

std::optional<MemoryMetric> parse_metric(std::string_view text, std::string& why) {
  if (text.starts_with(kGaugePrefix)) {
    const std::string_view name = text.substr(kGaugePrefix.size());
    if (valid_gauge_name(name)) return MemoryMetric::of_gauge(std::string(name));
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
