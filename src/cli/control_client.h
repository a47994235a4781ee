// The client side of the control socket: one JSON request, one JSON reply.
#pragma once

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>

#include "core/result.h"

namespace memvisor {

// Connects to STATE_DIR/control.sock (retrying for a few seconds, since the supervisor may be
// restarting), sends `request` and returns the reply object, waiting at most `reply_timeout`.
// `connect_retry` 0 tries once: `memvisor top` retries on its own refresh instead of freezing.
Result<nlohmann::json> control_request(
    const std::string& state_dir, const nlohmann::json& request,
    std::chrono::seconds reply_timeout = std::chrono::seconds(10),
    std::chrono::milliseconds connect_retry = std::chrono::seconds(3));

}  // namespace memvisor
