// libFuzzer target: one line a worker sends on MEMVISOR_SOCKET (hello, ready, status, requests,
// gauge, reply). What parses must hold the promises the supervisor relies on: a finite gauge
// value with a valid name, a non-negative request total, a status within its size.
#include <cmath>

#include "core/config/metric_name.h"
#include "core/protocol/worker_message.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace memvisor;
  const WorkerMessage message = parse_worker_message(fuzz::as_text(data, size));
  using Kind = WorkerMessage::Kind;
  switch (message.kind) {
    case Kind::gauge:
      if (!std::isfinite(message.value) || !valid_gauge_name(message.text)) __builtin_trap();
      break;
    case Kind::requests:
      if (message.total < 0) __builtin_trap();
      break;
    case Kind::status:
      if (message.text.size() > WorkerMessage::kMaxStatus) __builtin_trap();
      break;
    default:
      break;
  }
  // The error reply is dumped back to the worker, whatever bytes it quoted.
  (void)nlohmann::json{{"type", "error"}, {"error", message.text}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace);
  return 0;
}
