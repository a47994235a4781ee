// `memvisor restart|stop|start SERVICE[.N]`: steer a running memvisor through its control socket.
#include <iostream>

#include "cli/cli_parse.h"
#include "cli/commands.h"
#include "cli/control_client.h"
#include "cli/state_dir.h"

namespace memvisor {
namespace {

int lifecycle(const std::string& cmd, const std::string& description, const Args& args) {
  CLI::App app(description, cmd);
  std::string target;
  std::string state_dir_flag;
  app.add_option("target", target, "SERVICE (every instance) or SERVICE.N (one instance)")
      ->required();
  app.add_option("--state-dir", state_dir_flag, "the state dir of the memvisor to steer");
  if (auto done = parse_cli(app, args)) return *done;

  auto reply = control_request(resolve_state_dir(state_dir_flag),
                               {{"id", 1}, {"cmd", cmd}, {"target", target}});
  if (!reply) return fail(kExitFailure, reply.error().describe());
  if (!reply->value("ok", false)) {
    const bool not_found = reply->value("code", "") == "not_found";
    return fail(not_found ? kExitUsage : kExitFailure, reply->value("error", "request failed"));
  }
  std::cout << reply->value("message", "ok") << "\n";
  return kExitOk;
}

}  // namespace

int restart_command(const Args& args) {
  return lifecycle("restart", "Restart an instance, or every instance of a service, gracefully.",
                   args);
}
int stop_command(const Args& args) {
  return lifecycle("stop", "Stop an instance or a service (it stays stopped until `start`).", args);
}
int start_command(const Args& args) {
  return lifecycle("start", "Start the stopped instances of a service, or one instance.", args);
}

}  // namespace memvisor
