// One sample window through an in-process heap agent's socket (the protocol: agent_protocol.h):
// connect, ask, wait with the request's deadline on every read, and read a bounded reply.
#pragma once

#include <string>

#include "runtimes/agent/agent_protocol.h"
#include "runtimes/runtime_sample.h"

namespace memvisor {

struct AgentWindowRequest {
  std::string socket_path;
  int expected_pid = 0;  // the process that must serve the socket (SO_PEERCRED); 0: any
  Millis duration{30000};
  Millis timeout{120000};      // from the call to the last byte
  Millis first_answer{10000};  // the agent says "recording" within this (or the timeout)
  uint64_t interval_bytes = 512 * 1024;
  int frames = kAgentFrames;
  size_t max_reply = kAgentMaxReply;
  std::string who = "the agent";  // for messages: "the Python agent of pid 123"
};

// The profile, or one error saying what went wrong: nothing listens (ECONNREFUSED), the socket is
// missing (ENOENT, for the caller to explain), the agent refused, broke the protocol, sent too
// much, hung up, or missed the deadline.
Result<RuntimeProfile> run_agent_window(const AgentWindowRequest& request,
                                        const SampleProgress& progress);

}  // namespace memvisor
