// `memvisor run`: the controller, from a config file or from flags and `-- CMD ARGS...`.
#include <unistd.h>

#include <algorithm>
#include <iostream>

#include "cli/cli_parse.h"
#include "cli/commands.h"
#include "cli/config_file.h"
#include "cli/service_flags.h"
#include "cli/state_dir.h"
#include "controller/controller.h"
#include "core/config/config_validate.h"
#include "core/config/listen_address.h"
#include "os/log_sink.h"

namespace memvisor {

int run_command(const Args& all_args) {
  // Everything after the first "--" is the worker's command line, untouched by option parsing.
  const auto [args, command] = split_at_dashes(all_args);

  CLI::App app(
      "Run a pool of workers and keep them running.\n\n"
      "  memvisor run CONFIG.toml\n"
      "  memvisor run [OPTIONS] -- CMD [ARGS...]",
      "run");
  std::string config_path;
  std::string state_dir_flag;
  std::string http_flag;
  std::string log_format_flag = "text";
  ServiceFlags flags;
  app.add_option("config", config_path, "the config file (TOML)");
  app.add_option("--state-dir", state_dir_flag,
                 "sockets, events.jsonl and incidents (default /run/memvisor as root, else "
                 "$XDG_RUNTIME_DIR/memvisor or /tmp/memvisor-UID)");
  app.add_option("--http", http_flag,
                 "serve /metrics, /health and /status on HOST:PORT, [IPV6]:PORT or :PORT "
                 "(loopback); wins over [supervisor] http (default: off)");
  auto* log_format_option =
      app.add_option("--log-format", log_format_flag,
                     "text: one human line per event on stderr; json: one JSON object per line "
                     "(events, messages and the workers' relayed output); wins over [supervisor] "
                     "log_format")
          ->capture_default_str();
  flags.add_to(app);
  if (auto done = parse_cli(app, args)) return *done;
  // First, so that everything after, a refused config included, is written in the chosen format.
  const auto log_format = parse_log_format(log_format_flag);
  if (!log_format) {
    return fail(kExitUsage, "--log-format: expected text or json, got '" + log_format_flag + "'");
  }
  set_log_format(*log_format);

  // The command line wins over the file, at start and at every reload; the state dir is the one
  // memvisor resolves (flag, environment, file, default), so a reload compares what is used.
  auto apply_flags = [http_flag, state_dir_flag](Config& config) -> Status {
    if (!http_flag.empty()) {
      auto address = parse_listen_address(http_flag);
      if (!address) return Error{"--http: " + address.error().message};
      config.supervisor.http = to_string(*address);
    }
    config.supervisor.state_dir = resolve_state_dir(state_dir_flag, config.supervisor.state_dir);
    return {};
  };

  Config config;
  ControllerOptions options;
  if (!config_path.empty()) {
    if (!command.empty()) return fail(kExitUsage, "give either a config file or -- CMD, not both");
    if (std::string flag = flags.first_given(app); !flag.empty()) {
      return fail(kExitUsage,
                  flag + ": applies only without a config file; set it in " + config_path);
    }
    // SIGHUP and `memvisor reload` read the same file again, through the same path as `check`.
    options.load_config = [config_path, apply_flags]() -> Result<Config> {
      auto loaded = load_config_file(config_path);
      if (!loaded) return loaded.error();
      if (Status applied = apply_flags(*loaded); !applied) return applied.error();
      return std::move(*loaded);
    };
    auto loaded = options.load_config();
    if (!loaded) return fail(kExitUsage, loaded.error().describe());
    config = std::move(*loaded);
    // The file's choice, unless the command line made one (validated by the parser).
    if (log_format_option->count() == 0 && !config.supervisor.log_format.empty()) {
      set_log_format(parse_log_format(config.supervisor.log_format).value_or(LogFormat::text));
    }
  } else {
    if (command.empty()) {
      return fail(kExitUsage,
                  "nothing to run: give CONFIG.toml or -- CMD [ARGS...] (see memvisor run --help)");
    }
    auto service = flags.build(command);
    if (!service) return fail(kExitUsage, service.error().describe());
    config.source = "command line";
    config.services.push_back(std::move(*service));
    if (Status valid = validate_config(config); !valid)
      return fail(kExitUsage, valid.error().describe());
    if (Status applied = apply_flags(config); !applied) {
      return fail(kExitUsage, applied.error().describe());
    }
  }

  options.state_dir = config.supervisor.state_dir;
  options.config = std::move(config);
  options.self_executable = "/proc/self/exe";
  auto controller = Controller::create(std::move(options));
  if (!controller) {
    const std::string message = controller.error().describe();
    // A user that does not exist is a config error; anything else is the machine's.
    const bool config_error = message.rfind("service.", 0) == 0;
    return fail(config_error ? kExitUsage : kExitFailure, message);
  }
  return (*controller)->run();
}

}  // namespace memvisor
