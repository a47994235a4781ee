// Exec monitors in the config: checks, the TOML reader, the model check and the JSON form. The
// reader and validate_config use the same check functions, so both refuse the same things with
// the same words.
#include "core/config/config_monitor.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <set>

#include "core/config/config_toml_values.h"
#include "core/config/metric_name.h"
#include "core/units.h"

namespace memvisor {

std::optional<std::string> check_monitor_name(std::string_view name) {
  // The gauges' own rule, so `metric = "gauge:NAME"` can name every monitor.
  if (valid_gauge_name(name)) return std::nullopt;
  return fmt::format(
      "expected a gauge name matching [a-zA-Z_:][a-zA-Z0-9_:]* (at most 128 characters), got "
      "'{}'",
      name);
}

std::optional<std::string> check_monitor_interval(Millis interval) {
  if (interval < kMinMonitorInterval) {
    return fmt::format("expected a duration of at least {}, got {}",
                       format_duration_exact(kMinMonitorInterval), format_duration_exact(interval));
  }
  if (interval > kMaxDuration) {
    return fmt::format("expected a duration of at most {}, got {}",
                       format_duration_exact(kMaxDuration), format_duration_exact(interval));
  }
  return std::nullopt;
}

std::optional<std::string> check_monitor_timeout(Millis timeout, Millis interval) {
  if (timeout <= Millis{0}) {
    return fmt::format("expected a duration greater than 0, got {}",
                       format_duration_exact(timeout));
  }
  if (timeout >= interval) {
    return fmt::format(
        "expected a duration shorter than the interval ({}), got {}: a run must end before the "
        "next one is due",
        format_duration_exact(interval), format_duration_exact(timeout));
  }
  return std::nullopt;
}

Millis default_monitor_timeout(Millis interval) {
  return std::min(kDefaultMonitorTimeout, interval / 2);
}

std::optional<ConfigProblem> find_monitor_problem(const ServiceConfig& service) {
  if (service.monitors.size() > kMaxMonitorsPerService) {
    return ConfigProblem{"monitor", fmt::format("expected at most {} monitors, got {}",
                                                kMaxMonitorsPerService, service.monitors.size())};
  }
  std::set<std::string_view> names;
  for (size_t i = 0; i < service.monitors.size(); ++i) {
    const MonitorConfig& m = service.monitors[i];
    const std::string at = fmt::format("monitor[{}]", i);
    std::optional<ConfigProblem> problem;
    auto check = [&](std::string_view field, std::optional<std::string> what) {
      if (!problem && what) problem = ConfigProblem{fmt::format("{}.{}", at, field), *what};
    };
    check("name", check_monitor_name(m.name));
    if (!problem && !names.insert(m.name).second) {
      check("name", fmt::format("another monitor of this service is named '{}'", m.name));
    }
    check("command", check_command_length(m.command.size()));
    if (!m.command.empty()) check("command[0]", check_program(m.command[0]));
    for (size_t k = 0; k < m.command.size(); ++k) {
      check(fmt::format("command[{}]", k), check_text(m.command[k]));
    }
    check("interval", check_monitor_interval(m.interval));
    check("timeout", check_monitor_timeout(m.timeout, m.interval));
    if (problem) return problem;
  }
  return std::nullopt;
}

namespace {

constexpr std::array<std::string_view, 4> kMonitorKeys{"name", "command", "interval", "timeout"};

TomlProblem monitor_check_at(const toml::node& node, std::string_view field,
                             const std::optional<std::string>& what) {
  if (what) return located_at(node, field, *what);
  return std::nullopt;
}

TomlProblem read_monitor_command(const toml::node& node, const std::string& field,
                                 std::vector<std::string>& out) {
  const auto* array = node.as_array();
  if (!array && node.is_string()) {
    return located_at(node, field,
                      "expected an array of strings, got a string (for a shell line write "
                      "[\"/bin/sh\", \"-c\", \"...\"])");
  }
  if (!array) return wrong_type(node, field, "an array of strings");
  if (auto what = check_command_length(array->size())) return located_at(node, field, *what);
  for (size_t i = 0; i < array->size(); ++i) {
    const toml::node& element = *array->get(i);
    const std::string element_field = fmt::format("{}[{}]", field, i);
    const auto* arg = element.as_string();
    if (!arg) return wrong_type(element, element_field, "a string");
    auto what = i == 0 ? check_program(arg->get()) : std::nullopt;
    if (!what) what = check_text(arg->get());
    if (what) return located_at(element, element_field, *what);
    out.push_back(arg->get());
  }
  return std::nullopt;
}

// One monitor's table; `field` is "service.web.monitor" or "service.web.monitor[1]".
TomlProblem read_one_monitor(const toml::node& node, const std::string& field,
                             ServiceConfig& service) {
  const auto* table = node.as_table();
  if (!table) {
    return wrong_type(node, field,
                      "a table { name = \"queue_depth\", command = [...], interval = \"10s\" }");
  }
  MonitorConfig m;
  const toml::node* interval_node = nullptr;
  const toml::node* timeout_node = nullptr;
  bool timeout_set = false;
  for (auto [key, value] : in_file_order(*table)) {
    const std::string_view name = key->str();
    if (std::find(kMonitorKeys.begin(), kMonitorKeys.end(), name) == kMonitorKeys.end()) {
      return unknown_key(*key, *table, field, kMonitorKeys);
    }
    const std::string at = fmt::format("{}.{}", field, name);
    if (name == "name") {
      const auto* text = value->as_string();
      if (!text) return wrong_type(*value, at, "a string");
      if (auto problem = monitor_check_at(*value, at, check_monitor_name(text->get()))) {
        return problem;
      }
      for (const MonitorConfig& other : service.monitors) {
        if (other.name == text->get()) {
          return located_at(
              *value, at,
              fmt::format("another monitor of this service is named '{}'", text->get()));
        }
      }
      m.name = text->get();
    } else if (name == "command") {
      if (auto problem = read_monitor_command(*value, at, m.command)) return problem;
    } else if (name == "interval") {
      interval_node = value;
      if (auto problem = read_duration_value(*value, at, m.interval)) return problem;
      if (auto problem = monitor_check_at(*value, at, check_monitor_interval(m.interval))) {
        return problem;
      }
    } else {
      timeout_node = value;
      timeout_set = true;
      if (auto problem = read_duration_value(*value, at, m.timeout)) return problem;
    }
  }
  for (std::string_view required : {"name", "command"}) {
    if (!table->contains(required)) {
      return Located{table->source().begin,
                     fmt::format("{}: missing required key '{}'", field, required)};
    }
  }
  if (!timeout_set) m.timeout = default_monitor_timeout(m.interval);
  if (auto what = check_monitor_timeout(m.timeout, m.interval)) {
    // Checked once both are read (either may come first); blame the timeout when it was written.
    if (timeout_node != nullptr) return located_at(*timeout_node, field + ".timeout", *what);
    return located_at(interval_node != nullptr ? *interval_node : node, field + ".interval", *what);
  }
  if (service.monitors.size() >= kMaxMonitorsPerService) {
    return located_at(node, field,
                      fmt::format("expected at most {} monitors", kMaxMonitorsPerService));
  }
  service.monitors.push_back(std::move(m));
  return std::nullopt;
}

}  // namespace

TomlProblem read_monitor_key(const toml::node& node, std::string_view path,
                             ServiceConfig& service) {
  const std::string field = fmt::format("{}.monitor", path);
  if (const auto* array = node.as_array()) {
    for (size_t i = 0; i < array->size(); ++i) {
      if (auto problem = read_one_monitor(*array->get(i), fmt::format("{}[{}]", field, i), service))
        return problem;
    }
    return std::nullopt;
  }
  return read_one_monitor(node, field, service);
}

nlohmann::json monitors_to_json(const std::vector<MonitorConfig>& monitors) {
  nlohmann::json list = nlohmann::json::array();
  for (const MonitorConfig& m : monitors) {
    list.push_back({{"name", m.name},
                    {"command", m.command},
                    {"interval_ms", m.interval.count()},
                    {"timeout_ms", m.timeout.count()}});
  }
  return list;
}

void monitors_from_json(JsonReader& r, const nlohmann::json& j, const std::string& path,
                        std::vector<MonitorConfig>& out) {
  if (!r.expect(j.is_array(), j, path, "an array")) return;
  for (size_t i = 0; i < j.size() && !r.error(); ++i) {
    const std::string at = fmt::format("{}[{}]", path, i);
    if (!r.object(j[i], at, {"name", "command", "interval_ms", "timeout_ms"})) return;
    MonitorConfig& m = out.emplace_back();
    r.read(j[i]["name"], at + ".name", m.name);
    const nlohmann::json& command = j[i]["command"];
    if (r.expect(command.is_array(), command, at + ".command", "an array")) {
      m.command.resize(command.size());
      for (size_t k = 0; k < command.size(); ++k) {
        r.read(command[k], fmt::format("{}.command[{}]", at, k), m.command[k]);
      }
    }
    r.read(j[i]["interval_ms"], at + ".interval_ms", m.interval);
    r.read(j[i]["timeout_ms"], at + ".timeout_ms", m.timeout);
  }
}

std::string describe_monitors(const std::vector<MonitorConfig>& monitors) {
  std::string text;
  for (const MonitorConfig& m : monitors) {
    text += fmt::format("{}{}/{}", text.empty() ? " monitors " : ", ", m.name,
                        format_duration(m.interval));
  }
  return text;
}

}  // namespace memvisor
