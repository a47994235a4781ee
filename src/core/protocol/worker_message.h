// One line of the worker protocol (docs/worker-protocol.md) read into what it says, with every
// check on the worker's input done here, without a connection: the supervisor's WorkerServer acts
// on the result, and the fuzz target (fuzz/worker_message_fuzz.cc) feeds it arbitrary bytes.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace memvisor {

struct WorkerMessage {
  enum class Kind {
    hello,  // who it is comes from the kernel (SO_PEERCRED), not from the line
    ready,
    status,       // text: the status, at most kMaxStatus bytes of whole UTF-8 sequences
    requests,     // total: a non-negative integer
    gauge,        // text: a valid gauge name; value: finite
    reply,        // id, and the whole message in `reply`
    ignored,      // a reply without an integer id: nobody waits for it
    error,        // text: why, answered to the worker as {"type":"error"}
    gauge_error,  // text: why, answered rate-limited and counted as a gauge error
  };
  static constexpr size_t kMaxStatus = 1024;

  Kind kind = Kind::error;
  std::string text;
  int64_t total = 0;
  double value = 0;
  int64_t id = 0;
  nlohmann::json reply;
};

WorkerMessage parse_worker_message(std::string_view line);

// At most `max` bytes, never cutting a UTF-8 sequence in half (status is dumped as JSON later).
std::string truncate_utf8(std::string text, size_t max);

}  // namespace memvisor
