// [supervisor] pressure: the memory-pressure rule read from TOML, checked, and carried through the
// controller's JSON hand-off. One file so that the other config files each gain one line.
#pragma once

#include <toml++/toml.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "core/config/config.h"
#include "core/config/config_json_reader.h"
#include "core/config/config_toml.h"

namespace memvisor {

// `pressure = { some = "10%", window = "10s", action = "recycle", pick = "largest" }`.
TomlProblem read_pressure(const toml::node& node, std::string_view field,
                          std::optional<PressureRule>& out);
// Why the rule cannot be used (a share out of range, no threshold, a window the kernel refuses),
// or nullopt.
std::optional<std::string> check_pressure(const PressureRule& rule);
// "10%" → 10; nullopt with `why` set when it is not a percentage in (0, 100].
std::optional<double> parse_percent(std::string_view text, std::string& why);

nlohmann::json pressure_to_json(const std::optional<PressureRule>& rule);
void pressure_from_json(JsonReader& r, const nlohmann::json& j, const std::string& path,
                        std::optional<PressureRule>& out);

}  // namespace memvisor
