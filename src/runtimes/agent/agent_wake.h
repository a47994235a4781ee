// Waking the Ruby agent, which keeps no thread while idle: it writes DIR/PID.wake at start
// ("<start time> armed"), memvisor creates DIR/PID.wake.req and sends SIGURG, and the agent's
// trap opens DIR/PID.agent for one window (the protocol: agent_protocol.h). SIGURG is ignored by
// default, so a signal that reaches a process without the agent does nothing; memvisor still only
// sends it to the process that wrote an armed marker, checked by start time and owner.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace memvisor {

std::string agent_wake_marker_path(const std::string& dir, int pid);   // DIR/PID.wake
std::string agent_wake_request_path(const std::string& dir, int pid);  // DIR/PID.wake.req

struct AgentWakeMarker {
  uint64_t start_time_ticks = 0;  // field 22 of /proc/PID/stat of the process that wrote it
  std::string state;              // "armed", or why not: "app-trap", "foreign-handler", ...
};

// Pure: the marker's one line; nullopt when it is not "<digits> <word>\n".
std::optional<AgentWakeMarker> parse_agent_wake_marker(std::string_view text);

// Pure, from /proc/PID/status: whether `signo` has a handler (SigCgt); nullopt without the line.
std::optional<bool> status_catches_signal(std::string_view status, int signo);
// Pure, from /proc/PID/status: the real, effective, saved and filesystem uids (the Uid line).
std::vector<uint32_t> status_uids(std::string_view status);

// Pure: why a marker in `state` (not "armed") means the agent cannot be woken, one sentence.
std::string agent_wake_refusal(std::string_view state);

struct AgentWakeTarget {
  std::string dir;  // the process's MEMVISOR_SAMPLER_DIR
  pid_t pid = 0;
  std::string proc_root = "/proc";
};

// Whether `target.pid` is today the Ruby process that wrote an armed marker in `target.dir`
// (same start time, a marker owned by root or by one of its uids, SIGURG still caught, a Ruby
// executable). An error says why not; ENOENT: there is no marker (the caller says why).
Status check_agent_wake(const AgentWakeTarget& target);

// check_agent_wake, then the request file, then SIGURG through a pidfd opened before the checks
// (so a pid recycled meanwhile is never signalled).
Status wake_agent(const AgentWakeTarget& target);

}  // namespace memvisor
