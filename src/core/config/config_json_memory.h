// The memory rules in the JSON hand-off: sizes in bytes, rates in bytes per hour, durations in
// milliseconds ("interval_ms"), and an unset rule or metric as null.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "core/config/config.h"
#include "core/config/config_json_reader.h"

namespace memvisor {

nlohmann::json memory_to_json(const MemoryRules& rules);
nlohmann::json size_rule_to_json(const std::optional<SizeRule>& rule);

// Strict like config_from_json: every key present, no other; path is the JSON path for errors.
void memory_from_json(JsonReader& r, const nlohmann::json& j, const std::string& path,
                      MemoryRules& rules);
void size_rule_from_json(JsonReader& r, const nlohmann::json& j, const std::string& path,
                         std::optional<SizeRule>& rule);

}  // namespace memvisor
