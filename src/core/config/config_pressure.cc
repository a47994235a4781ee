// [supervisor] pressure: parse, check and JSON of the memory-pressure rule.
#include "core/config/config_pressure.h"

#include <fmt/format.h>

#include <array>
#include <charconv>

#include "core/config/config_names.h"
#include "core/config/config_toml_values.h"

namespace memvisor {
namespace {

// The kernel takes a PSI trigger's window from 500 ms to 10 s (kernel/sched/psi.c).
constexpr Millis kMinPressureWindow{500};
constexpr Millis kMaxPressureWindow{10000};

std::string pressure_at(std::string_view field, std::string_view key) {
  return fmt::format("{}.{}", field, key);
}

TomlProblem read_share(const toml::node& node, std::string_view at, std::optional<double>& out) {
  const auto* text = node.as_string();
  if (!text) return wrong_type(node, at, "a share of the window like \"10%\"");
  std::string why;
  out = parse_percent(text->get(), why);
  if (!out) return located_at(node, at, why);
  return std::nullopt;
}

}  // namespace

std::optional<double> parse_percent(std::string_view text, std::string& why) {
  why = fmt::format("expected a share of the window like \"10%\" (above 0, at most 100%), got '{}'",
                    text);
  if (!text.ends_with('%')) return std::nullopt;
  const std::string_view number = text.substr(0, text.size() - 1);
  double value = 0;
  const auto [end, ec] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (ec != std::errc() || end != number.data() + number.size() || number.empty()) {
    return std::nullopt;
  }
  if (!(value > 0 && value <= 100)) return std::nullopt;
  return value;
}

TomlProblem read_pressure(const toml::node& node, std::string_view field,
                          std::optional<PressureRule>& out) {
  static constexpr std::array<std::string_view, 6> kKeys{"some",   "full", "window",
                                                         "action", "pick", "source"};
  const auto* table = node.as_table();
  if (!table) {
    return wrong_type(node, field, "a table { some = \"10%\", window = \"10s\", action = … }");
  }
  PressureRule rule;
  for (auto [key, value] : in_file_order(*table)) {
    const std::string at = pressure_at(field, key->str());
    TomlProblem problem;
    if (key->str() == "some") {
      problem = read_share(*value, at, rule.some_percent);
    } else if (key->str() == "full") {
      problem = read_share(*value, at, rule.full_percent);
    } else if (key->str() == "window") {
      problem = read_duration_value(*value, at, rule.window);
      if (!problem && (rule.window < kMinPressureWindow || rule.window > kMaxPressureWindow)) {
        problem = located_at(*value, at, "expected 500ms to 10s (the kernel's PSI trigger window)");
      }
    } else if (key->str() == "action") {
      problem = read_enum_value(*value, at, kPressureActionNames, rule.action);
    } else if (key->str() == "pick") {
      problem = read_enum_value(*value, at, kPressurePickNames, rule.pick);
    } else if (key->str() == "source") {
      const auto* text = value->as_string();
      if (!text) return wrong_type(*value, at, "\"host\", \"cgroup\" or an absolute path");
      rule.source = text->get();
      if (rule.source != "host" && rule.source != "cgroup" && !rule.source.starts_with('/')) {
        problem = located_at(*value, at,
                             "expected \"host\", \"cgroup\" or the absolute path of a PSI file, "
                             "got '" +
                                 rule.source + "'");
      }
    } else {
      return unknown_key(*key, *table, field, kKeys);
    }
    if (problem) return problem;
  }
  if (!rule.some_percent && !rule.full_percent) {
    return Located{
        table->source().begin,
        fmt::format("{}: needs 'some' or 'full' (a share of the window like \"10%\")", field)};
  }
  out = rule;
  return std::nullopt;
}

std::optional<std::string> check_pressure(const PressureRule& rule) {
  if (!rule.some_percent && !rule.full_percent) return "needs 'some' or 'full'";
  for (const auto& share : {rule.some_percent, rule.full_percent}) {
    if (share && !(*share > 0 && *share <= 100)) {
      return fmt::format("a share above 0 and at most 100%, got {}%", *share);
    }
  }
  if (rule.window < kMinPressureWindow || rule.window > kMaxPressureWindow) {
    return "window: expected 500ms to 10s (the kernel's PSI trigger window)";
  }
  if (rule.source != "host" && rule.source != "cgroup" && !rule.source.starts_with('/')) {
    return "source: expected \"host\", \"cgroup\" or an absolute path";
  }
  return std::nullopt;
}

nlohmann::json pressure_to_json(const std::optional<PressureRule>& rule) {
  if (!rule) return nullptr;
  auto share = [](const std::optional<double>& value) -> nlohmann::json {
    if (!value) return nullptr;
    return *value;
  };
  return {{"some_percent", share(rule->some_percent)},
          {"full_percent", share(rule->full_percent)},
          {"window_ms", rule->window.count()},
          {"action", enum_name(kPressureActionNames, rule->action)},
          {"pick", enum_name(kPressurePickNames, rule->pick)},
          {"source", rule->source}};
}

void pressure_from_json(JsonReader& r, const nlohmann::json& j, const std::string& path,
                        std::optional<PressureRule>& out) {
  out.reset();
  if (j.is_null() ||
      !r.object(j, path, {"some_percent", "full_percent", "window_ms", "action", "pick", "source"}))
    return;
  PressureRule& rule = out.emplace();
  for (auto [key, share] : {std::pair{"some_percent", &rule.some_percent},
                            std::pair{"full_percent", &rule.full_percent}}) {
    if (!j[key].is_null()) r.read(j[key], pressure_at(path, key), share->emplace());
  }
  r.read(j["window_ms"], pressure_at(path, "window_ms"), rule.window);
  r.read(j["action"], pressure_at(path, "action"), kPressureActionNames, rule.action);
  r.read(j["pick"], pressure_at(path, "pick"), kPressurePickNames, rule.pick);
  r.read(j["source"], pressure_at(path, "source"), rule.source);
}

}  // namespace memvisor
