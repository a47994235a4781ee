// How a rule's metric is spelled in config files, flags, JSON and messages: a memory kind ("pss",
// "rss", …) or a gauge ("gauge:heap_used_bytes"), and the rule gauge names follow.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/config/config.h"

namespace memvisor {

// Prometheus' metric name rule: [a-zA-Z_:][a-zA-Z0-9_:]*, here at most 128 characters.
bool valid_gauge_name(std::string_view name);

// "pss" … "cgroup", or "gauge:NAME".
std::string metric_name(const MemoryMetric& metric);

// The metric `text` names; otherwise nothing, and `why` says what was expected.
std::optional<MemoryMetric> parse_metric(std::string_view text, std::string& why);

// "one of pss, rss, uss, anon, swap, cgroup, or gauge:NAME"
std::string metric_choices();

}  // namespace memvisor
