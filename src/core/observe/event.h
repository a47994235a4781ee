// A lifecycle event: one JSON line in events.jsonl, one human line on stderr, one message to the
// supervisor. Every start, ready, exit, stop, restart, backoff and circuit change is one Event.
#pragma once

#include <sys/types.h>

#include <nlohmann/json.hpp>
#include <string>

#include "core/time_format.h"

namespace memvisor {

struct Event {
  WallTime ts;
  std::string event;  // "started", "ready", "exited", "stopping", "restarting", "circuit_open", …
  std::string service;  // empty for memvisor-wide events
  int instance = 0;     // 0 for service- or memvisor-wide events
  pid_t pid = 0;
  std::string reason;   // why it happened: "crash", "watchdog", "startup_timeout", "shutdown", …
  std::string message;  // a short human description: "exited with code 1"
  nlohmann::json extra =
      nlohmann::json::object();  // event-specific fields (code, signal, delay_ms)
};

nlohmann::json to_json(const Event& event);
Event event_from_json(const nlohmann::json& json);  // the inverse; missing fields stay default
// "web.1: exited with code 1 (pid 4242, reason crash)"
std::string human_line(const Event& event);

}  // namespace memvisor
