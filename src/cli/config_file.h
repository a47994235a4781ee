// Reading a config file from disk into the validated model: the one path `run` and `check` share.
#pragma once

#include <string>

#include "core/config/config.h"
#include "core/result.h"

namespace memvisor {

// Errors are one line: "web.toml: cannot read: No such file or directory", or parse_config's
// "web.toml:3:12: …". The config as written, for any machine (`replay` reads its rules).
Result<Config> parse_config_file(const std::string& path);
// The same, checked against this machine for running it: every service's `user` exists
// ("web.toml:7:8: service.web.user: unknown user 'deploy'"). `run`, `reload` and `check`.
Result<Config> load_config_file(const std::string& path);

}  // namespace memvisor
