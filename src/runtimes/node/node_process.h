// What /proc tells about a Node.js process before it is signalled: whether SIGUSR1 would reach
// Node's handler (rather than end the process or be ignored), whether it was started with its
// inspector open, and where memvisor's spawn-time setup put it. Pure text functions.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace memvisor::nodejs {

struct SignalDisposition {
  bool caught = false;   // a handler is installed (Node's, or the app's through process.on)
  bool ignored = false;  // SIG_IGN
  bool blocked = false;  // in the main thread's mask
};

// From /proc/PID/status (SigCgt, SigIgn, SigBlk); nothing when the lines are missing.
std::optional<SignalDisposition> parse_signal_disposition(std::string_view status, int signo);
// The State: letter of /proc/PID/status ('Z' for a zombie), '?' when missing.
char parse_process_state(std::string_view status);

// The arguments of /proc/PID/cmdline (NUL-separated).
std::vector<std::string> split_cmdline(std::string_view cmdline);
// Node's options from its command line (before the script) and NODE_OPTIONS.
std::vector<std::string> node_options_of(const std::vector<std::string>& argv,
                                         std::string_view node_options_env);
// --inspect, --inspect-brk, --inspect-wait (with or without =[host:]port): the inspector was
// opened at start. --inspect-port alone (memvisor's setup) only names where SIGUSR1 opens it.
bool inspector_opened_at_start(const std::vector<std::string>& options);
// --inspect-port=... is among the options (memvisor's spawn-time setup, or the user's own).
bool inspect_port_set(const std::vector<std::string>& options);

}  // namespace memvisor::nodejs
