// `memvisor supervise`: the supervisor process, started by the controller (not by people).
#include <iostream>

#include "cli/cli_parse.h"
#include "cli/commands.h"
#include "os/log_sink.h"
#include "supervisor/supervisor.h"

namespace memvisor {

int supervise_command(const Args& args) {
  CLI::App app("The supervisor process; the controller starts it.", "supervise");
  SupervisorOptions options;
  app.add_option("--channel-fd", options.channel_fd, "our end of the controller's socketpair")
      ->required();
  app.add_option("--worker-fd", options.worker_fd, "the worker socket, listening");
  app.add_option("--state-dir", options.state_dir, "the controller's state dir")->required();
  std::string log_format_flag = "text";
  app.add_option("--log-format", log_format_flag, "text or json, as `memvisor run` was given");
  if (auto done = parse_cli(app, args)) return *done;
  const auto log_format = parse_log_format(log_format_flag);
  if (!log_format) return fail(kExitUsage, "--log-format: expected text or json");
  set_log_format(*log_format);

  auto supervisor = Supervisor::create(std::move(options));
  if (!supervisor) return fail(kExitFailure, "supervisor: " + supervisor.error().describe());
  return (*supervisor)->run();
}

}  // namespace memvisor
