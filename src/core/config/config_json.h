// The config as JSON between processes, lossless: durations in ms ("stop_timeout_ms"), sizes in
// bytes, signals by name, enums by their config spelling, an unset memory rule as null.
#pragma once

#include <nlohmann/json.hpp>

#include "core/config/config.h"
#include "core/result.h"

namespace memvisor {

nlohmann::json config_to_json(const Config& config);

// Strict: every key must be present and no other, and the result must pass validate_config.
// Errors name the JSON path: "services[0].instances: expected an integer, got string".
Result<Config> config_from_json(const nlohmann::json& json);

}  // namespace memvisor
