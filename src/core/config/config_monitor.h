// Exec monitors in the config (`monitor = { name, command, interval, timeout }` in a service
// table, or an array of such tables): the per-value checks, the TOML reader that applies them
// with line:column, the same checks on a whole model for validate_config, and the JSON form the
// controller hands the supervisor.
#pragma once

#include <toml++/toml.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config/config.h"
#include "core/config/config_json_reader.h"
#include "core/config/config_toml.h"
#include "core/config/config_validate.h"

namespace memvisor {

inline constexpr Millis kMinMonitorInterval{100};
inline constexpr Millis kDefaultMonitorTimeout{5000};
inline constexpr size_t kMaxMonitorsPerService = 32;

// A gauge name, as a worker's gauges: Prometheus' metric name rule (valid_gauge_name).
std::optional<std::string> check_monitor_name(std::string_view name);
std::optional<std::string> check_monitor_interval(Millis interval);
// Greater than 0 and shorter than the interval: a run must end before the next is due.
std::optional<std::string> check_monitor_timeout(Millis timeout, Millis interval);
// The timeout when the file sets none: half the interval, at most 5 s.
Millis default_monitor_timeout(Millis interval);

// The first problem with a service's monitors; the field is relative to the service
// ("monitor[1].timeout").
std::optional<ConfigProblem> find_monitor_problem(const ServiceConfig& service);

// Reads the `monitor` key of [service.NAME] (`path` is "service.web") into service.monitors.
TomlProblem read_monitor_key(const toml::node& node, std::string_view path, ServiceConfig& service);

nlohmann::json monitors_to_json(const std::vector<MonitorConfig>& monitors);
void monitors_from_json(JsonReader& r, const nlohmann::json& j, const std::string& path,
                        std::vector<MonitorConfig>& out);

// " monitors queue_depth/10s" for `memvisor check`; empty without monitors.
std::string describe_monitors(const std::vector<MonitorConfig>& monitors);

}  // namespace memvisor
