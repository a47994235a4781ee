// `memvisor check CONFIG.toml`: the same parse-and-validate path as `run`, and nothing started.
#include <iostream>

#include "cli/cli_parse.h"
#include "cli/commands.h"
#include "cli/config_file.h"
#include "core/config/config_validate.h"

namespace memvisor {

int check_command(const Args& args) {
  CLI::App app(
      "Validate a config file: exit 0 with a one-line summary, or exit 2 with the first "
      "problem as FILE:LINE:COLUMN: message.",
      "check");
  std::string config_path;
  std::string state_dir_flag;
  app.add_option("config", config_path, "the config file (TOML)")->required();
  app.add_option("--state-dir", state_dir_flag, "accepted for symmetry with the other subcommands");
  if (auto done = parse_cli(app, args)) return *done;

  auto config = load_config_file(config_path);
  if (!config) return fail(kExitUsage, config.error().describe());
  std::cout << describe_config(*config) << "\n";
  return kExitOk;
}

}  // namespace memvisor
