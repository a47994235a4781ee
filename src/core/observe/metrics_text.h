// The Prometheus text exposition format (0.0.4) of a MetricsSnapshot. Pure: the time and
// memvisor's own process figures are arguments.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/observe/metrics_snapshot.h"

namespace memvisor {

inline constexpr const char* kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

std::string render_metrics(const MetricsSnapshot& snapshot, double now_unix_s,
                           const std::vector<ProcessUsage>& own_processes);

// A label value as the format wants it: backslash, double quote and newline escaped.
std::string escape_label_value(std::string_view value);

}  // namespace memvisor
