// `memvisor dump SERVICE.N`: an incident bundle of a running instance, now; the instance is not
// touched. Prints the bundle's directory.
#include <iostream>

#include "cli/cli_parse.h"
#include "cli/commands.h"
#include "cli/control_client.h"
#include "cli/state_dir.h"

namespace memvisor {

int dump_command(const Args& args) {
  CLI::App app("Write an incident bundle of one running instance (it keeps running).", "dump");
  std::string target;
  std::string state_dir_flag;
  app.add_option("instance", target, "SERVICE.N, or SERVICE.N/PID for a pre-fork child")
      ->required();
  app.add_option("--state-dir", state_dir_flag, "the state dir of the memvisor to ask");
  if (auto done = parse_cli(app, args)) return *done;

  // The stack capture may take up to 10 s on a large process: wait longer than that.
  auto reply =
      control_request(resolve_state_dir(state_dir_flag),
                      {{"id", 1}, {"cmd", "dump"}, {"target", target}}, std::chrono::seconds(30));
  if (!reply) return fail(kExitFailure, reply.error().describe());
  if (!reply->value("ok", false)) {
    const std::string code = reply->value("code", "");
    return fail(code == "not_found" || code == "bad_request" ? kExitUsage : kExitFailure,
                reply->value("error", "request failed"));
  }
  std::cout << reply->value("path", "") << "\n";
  return kExitOk;
}

}  // namespace memvisor
