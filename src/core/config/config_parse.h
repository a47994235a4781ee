// Reads the TOML config file into the validated model. The first problem found is the error, as
// "SOURCE:LINE:COLUMN: FIELD: what was expected, got what".
#pragma once

#include <string>
#include <string_view>

#include "core/config/config.h"
#include "core/result.h"

namespace memvisor {

// source_name is put in messages and in Config::source ("web.toml"). Services keep file order.
Result<Config> parse_config(std::string_view toml_text, const std::string& source_name);

}  // namespace memvisor
