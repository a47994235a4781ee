// The subcommands of the memvisor binary. Each takes its own arguments (after the subcommand
// name) and returns the process exit code: 0 ok, 1 runtime failure, 2 usage or config error.
#pragma once

#include <string>
#include <vector>

namespace memvisor {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

using Args = std::vector<std::string>;

int run_command(const Args& args);
int check_command(const Args& args);
int status_command(const Args& args);
int supervise_command(const Args& args);
int restart_command(const Args& args);
int stop_command(const Args& args);
int start_command(const Args& args);
int reload_command(const Args& args);
int replay_command(const Args& args);
int record_command(const Args& args);
int watch_command(const Args& args);
int dump_command(const Args& args);
int incidents_command(const Args& args);
int events_command(const Args& args);
int sample_command(const Args& args);
int top_command(const Args& args);

}  // namespace memvisor
