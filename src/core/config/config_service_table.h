// Reads one [service.NAME] table into a ServiceConfig, key by key in file order, each value
// checked by the same functions as validate_config.
#pragma once

#include <toml++/toml.h>

#include "core/config/config.h"
#include "core/config/config_toml.h"

namespace memvisor {

// service starts with the defaults and its name set; keys in the table override them.
TomlProblem read_service_table(const toml::table& table, ServiceConfig& service);

}  // namespace memvisor
