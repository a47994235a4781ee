// The client side of the control socket: one JSON request, one JSON reply.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "core/result.h"

namespace memvisor {

// Connects to STATE_DIR/control.sock (retrying for a few seconds, since the supervisor may be
// restarting), sends `request` and returns the reply object.
Result<nlohmann::json> control_request(const std::string& state_dir, const nlohmann::json& request);

}  // namespace memvisor
