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
    // A target that names nothing, or is not a target at all: the caller's mistake, exit 2.
    const std::string code = reply->value("code", "");
    const bool usage = code == "not_found" || code == "bad_request";
    return fail(usage ? kExitUsage : kExitFailure, reply->value("error", "request failed"));
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
// `memvisor reload`: the running memvisor reads its config file again (as SIGHUP does) and says
// what it changed; a broken file changes nothing and exits 2 with the file's own message.
int reload_command(const Args& args) {
  CLI::App app(
      "Read the config file again and apply what changed: rules at once, keeping every leak "
      "history; services whose command, environment or sockets changed are rolled; instances "
      "and services added or removed. A broken file changes nothing.",
      "reload");
  std::string state_dir_flag;
  app.add_option("--state-dir", state_dir_flag, "the state dir of the memvisor to reload");
  if (auto done = parse_cli(app, args)) return *done;
  const std::string state_dir = resolve_state_dir(state_dir_flag);
  auto reply = control_request(state_dir, {{"id", 1}, {"cmd", "reload"}});
  if (!reply) {
    // The control socket is the supervisor's; the controller, which reloads, may still be up.
    return fail(kExitFailure, reply.error().describe() +
                                  "\n(SIGHUP to memvisor reloads too: kill -HUP $(cat " +
                                  state_dir + "/memvisor.lock))");
  }
  if (!reply->value("ok", false)) {
    const bool config_error = reply->value("code", "") == "config_error";
    return fail(
        config_error ? kExitUsage : kExitFailure,
        reply->value("error", "reload failed") +
            (config_error ? "\n(nothing changed: memvisor runs on the previous config)" : ""));
  }
  const auto changes = reply->value("changes", nlohmann::json::array());
  if (changes.empty()) std::cout << "reloaded: no change\n";
  for (const auto& line : changes) std::cout << line.get<std::string>() << "\n";
  return kExitOk;
}

int start_command(const Args& args) {
  return lifecycle("start", "Start the stopped instances of a service, or one instance.", args);
}

}  // namespace memvisor
