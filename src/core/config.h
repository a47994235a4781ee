// The validated configuration model: plain structs that the controller and supervisor consume.
// Built by parse_config (TOML) or by the embedded-default flags; both go through validate_config.
#pragma once

#include <chrono>
#include <csignal>
#include <map>
#include <string>
#include <vector>

namespace memvisor {

using Millis = std::chrono::milliseconds;

enum class RestartPolicy { always, on_failure, never };
enum class ReadyMode { immediate, notify };
enum class OutputMode { prefix, file };

struct ServiceConfig {
  std::string name;
  // argv; with `shell = true` the single string is run as {"/bin/sh", "-c", string}.
  std::vector<std::string> command;
  int instances = 1;
  std::map<std::string, std::string> env;
  std::string cwd;   // empty: memvisor's own working directory
  std::string user;  // empty: memvisor's own user; a name or a numeric uid (root only)

  RestartPolicy restart = RestartPolicy::always;
  Millis restart_delay{1000};       // first delay after a failed run
  double restart_backoff = 2.0;     // each consecutive failure multiplies the delay by this
  Millis restart_delay_max{60000};  // the delay never grows past this
  Millis min_uptime{10000};         // a run this long is stable: backoff and failures reset
  int circuit_failures = 5;         // consecutive failed starts that open the circuit
  Millis circuit_cooldown{60000};   // how long the circuit stays open before a half-open try

  int stop_signal = SIGINT;
  Millis stop_timeout{10000};  // after stop_signal, wait this long, then SIGTERM
  Millis kill_timeout{5000};   // after SIGTERM, wait this long, then SIGKILL the process group

  ReadyMode ready = ReadyMode::immediate;
  Millis startup_timeout{60000};  // notify mode: READY=1 must arrive within this
  Millis watchdog{0};             // 0: off; otherwise WATCHDOG=1 must arrive this often

  OutputMode output = OutputMode::prefix;
  std::string log_dir;  // output = "file": SERVICE.N.log files here (default STATE_DIR/logs)
};

struct SupervisorConfig {
  std::string state_dir;  // empty: default_state_dir()
};

struct Config {
  std::string source;  // the file it came from, or "command line"
  SupervisorConfig supervisor;
  std::vector<ServiceConfig> services;
};

}  // namespace memvisor
