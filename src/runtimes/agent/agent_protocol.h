// memvisor's side of the protocol of the in-process heap agents (Python and Ruby share it), in
// pure functions: the request line, a reply line, and why an agent is not there.
//
// Protocol, version 1 (agents/python/memvisor_heap_agent.py, agents/ruby/memvisor_heap_agent.rb):
//   - The agent's socket is the Unix stream socket $MEMVISOR_SAMPLER_DIR/<pid>.agent, mode 0600;
//     it serves only peers whose uid (SO_PEERCRED) is 0 or the process's own. Each forked child
//     has its own <pid>.agent.
//   - Python listens on it from start to exit (a daemon thread; the socket goes at exit).
//   - Ruby keeps no thread while idle (a thread in accept would stop Ruby's deadlock detection and
//     show in Thread.list): it traps SIGURG and writes <pid>.wake, one line "<start time> <state>"
//     (field 22 of /proc/self/stat; state "armed", or why it cannot be woken: "app-trap",
//     "foreign-handler", "no-proc"; agent_wake.h). memvisor checks the marker against the process,
//     creates <pid>.wake.req, sends SIGURG and waits for the socket; the trap (which does nothing
//     without the request file) starts a thread that listens, accepts one connection within 10 s,
//     serves it, removes the socket and ends. memvisor removes <pid>.wake.req when done.
//   - memvisor removes <pid>.agent and <pid>.wake* when it reaps the process.
//   - memvisor connects and sends one line:
//       {"protocol": 1, "duration_ms": N, "frames": F, "interval_bytes": B}
//   - The agent answers one line at once, {"state": "recording"} (or {"state": "error", ...} and
//     closes), then one line when the profile is built, and closes:
//       {"state": "done", "profile": {...}}  (the form runtime_profile_from_json() reads)
//       {"state": "error", "error": "..."}
//   - memvisor hanging up during the window ends it: tracing stops and nothing is sent.
//   - One window at a time: a request while one is open gets an error.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/proc/runtime_kind.h"
#include "core/result.h"
#include "core/units.h"
#include "heap_report/runtime_profile.h"

namespace memvisor {

inline constexpr int kAgentProtocol = 1;
inline constexpr int kAgentFrames = 16;              // Python's tracemalloc depth; Ruby has one
inline constexpr size_t kAgentMaxReply = 64u << 20;  // a longer reply line is refused
inline constexpr const char* kAgentDirVariable = "MEMVISOR_SAMPLER_DIR";
inline constexpr size_t kAgentMaxSocketPath = 108;  // sizeof(sockaddr_un::sun_path), with its NUL

std::string agent_socket_path(const std::string& dir, int pid);
std::string agent_request_line(Millis duration, int frames, uint64_t interval_bytes);

struct AgentReply {
  enum class State { recording, done, error };
  State state = State::error;
  std::string error;       // State::error: the agent's words
  RuntimeProfile profile;  // State::done
};

// One line of the agent (without its newline); anything but the forms above is an error.
Result<AgentReply> parse_agent_reply(std::string_view line);

// What a process without a listening agent tells about why: its command line (argv) and its
// environment (/proc/PID/environ text). `has_agent_file(dir)` says whether a directory holds
// memvisor's agent (the one I/O, injected). One sentence per likely reason, most likely first.
std::string agent_absent_reasons(RuntimeKind kind, const std::vector<std::string>& argv,
                                 std::string_view environ,
                                 const std::function<bool(const std::string&)>& has_agent_file);

}  // namespace memvisor
