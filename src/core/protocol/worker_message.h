// One line of the worker protocol (docs/worker-protocol.md) read into what it says, with every
// check on the worker's input done here, without a connection: the supervisor's WorkerServer acts
// on the result, and the fuzz target (fuzz/worker_message_fuzz.cc) feeds it arbitrary bytes.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "core/protocol/status_text.h"

namespace memvisor {

struct WorkerMessage {
  enum class Kind {
    hello,  // who it is comes from the kernel (SO_PEERCRED), not from the line
    ready,
    status,    // text: the status, at most kMaxStatus bytes of whole UTF-8 sequences, no controls
    requests,  // total: a non-negative integer
    gauge,     // text: a valid gauge name; value: finite
    reply,     // id, and the whole message in `reply`
    ignored,   // a reply without an integer id: nobody waits for it
    error,     // text: why, answered to the worker as {"type":"error"}
    gauge_error,  // text: why, answered rate-limited and counted as a gauge error
  };
  static constexpr size_t kMaxStatus = kMaxStatusText;

  Kind kind = Kind::error;
  std::string text;
  int64_t total = 0;
  double value = 0;
  int64_t id = 0;
  nlohmann::json reply;
};

WorkerMessage parse_worker_message(std::string_view line);

}  // namespace memvisor
