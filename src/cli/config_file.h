// Reading a config file from disk into the validated model: the one path `run` and `check` share.
#pragma once

#include <string>

#include "core/config/config.h"
#include "core/result.h"

namespace memvisor {

// Errors are one line: "web.toml: cannot read: No such file or directory", or parse_config's
// "web.toml:3:12: …".
Result<Config> load_config_file(const std::string& path);

}  // namespace memvisor
