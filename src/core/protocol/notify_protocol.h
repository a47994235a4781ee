// systemd's notify protocol: newline-separated KEY=VALUE assignments in one datagram.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace memvisor {

struct NotifyFields {
  bool ready = false;                 // READY=1
  bool watchdog = false;              // WATCHDOG=1
  bool stopping = false;              // STOPPING=1
  bool reloading = false;             // RELOADING=1
  std::optional<std::string> status;  // STATUS=...
  std::optional<pid_t> main_pid;      // MAINPID=...
};

// Unknown keys are ignored, as systemd does; a malformed MAINPID is dropped.
NotifyFields parse_notify_message(std::string_view text);

// sd_watchdog_enabled(3) for memvisor itself, from the values of WATCHDOG_USEC and WATCHDOG_PID
// (null when unset): how often systemd wants WATCHDOG=1 at the latest. nullopt when the watchdog
// is off, malformed, or meant for another process (WATCHDOG_PID set and not `self`).
std::optional<std::chrono::microseconds> service_watchdog_timeout(const char* usec, const char* pid,
                                                                  pid_t self);

}  // namespace memvisor
