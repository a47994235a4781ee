// One sample window through an in-process heap agent's socket (the protocol: agent_protocol.h):
// connect, ask, wait with the request's deadline on every read, and read a bounded reply.
#pragma once

#include <functional>
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
  // An agent that listens only when asked (Ruby): when nothing listens yet (no socket, or a stale
  // one), `wake` asks the process to open it, then connecting is retried every wake_poll until
  // wake_wait (or the timeout), `wake` again every wake_resend (a signal that came while the
  // previous window's thread was ending did nothing). `wake_failure` says why it never opened.
  std::function<Status()> wake;
  Millis wake_wait{5000};
  Millis wake_poll{20};
  Millis wake_resend{1000};
  std::function<std::string()> wake_failure;
};

// The profile, or one error saying what went wrong: nothing listens (ECONNREFUSED), the socket is
// missing (ENOENT, for the caller to explain), the agent could not be woken, refused, broke the
// protocol, sent too much, hung up, or missed the deadline.
Result<RuntimeProfile> run_agent_window(const AgentWindowRequest& request,
                                        const SampleProgress& progress);

}  // namespace memvisor
