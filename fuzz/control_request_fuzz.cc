// libFuzzer target: the control socket's request parser on arbitrary bytes. Every input must
// give a request or an error reply that serializes; anything else (a crash, an exception, an
// ASan or UBSan report) is a finding.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "core/protocol/control_request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  const memvisor::ParsedControlRequest parsed = memvisor::parse_control_request(line);
  if (const auto* error = std::get_if<memvisor::ControlError>(&parsed)) {
    (void)memvisor::reply_line(memvisor::error_reply(*error));
  } else {
    const auto& request = std::get<memvisor::ControlRequest>(parsed);
    nlohmann::json reply = {{"ok", true}, {"target", request.target.service}};
    if (!request.id.is_null()) reply["id"] = request.id;
    (void)memvisor::reply_line(reply);
  }
  return 0;
}
