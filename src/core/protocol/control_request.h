// The control socket's request parser: one line of text in, a typed request or the error reply
// out. Pure and total (it never throws, whatever the bytes), so it is fuzzed on its own
// (fuzz/control_request_fuzz.cc). docs/protocol.md documents every command.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace memvisor {

enum class ControlCommand {
  status,
  ping,
  restart,
  stop,
  start,
  dump,
  incidents,
  incident,
  memory_info,
  reload,
  series
};

// "web" (every instance), "web.2" (one) or "web.2/12345" (a pre-fork child of web.2, by pid).
struct ControlTarget {
  std::string service;
  int instance = 0;  // 0: every instance of the service
  int child = 0;     // a pre-fork child's pid; only `dump` takes one
};
std::optional<ControlTarget> parse_control_target(std::string_view text);

// series: samples per unit when the request names none, and the most it may ask for.
inline constexpr int kSeriesRequestDefaultPoints = 120;
inline constexpr int kSeriesRequestMaxPoints = 8640;

struct ControlRequest {
  nlohmann::json id;  // echoed in the reply; null when the request had none
  ControlCommand command = ControlCommand::ping;
  ControlTarget target;  // restart, stop, start, dump, memory_info; series (empty: everything)
  std::string incident;  // incident: a valid incident id
  int points = kSeriesRequestDefaultPoints;  // series: the most recent samples per unit, 1 to 8640
};

struct ControlError {
  nlohmann::json id;  // null when the request had none or it could not be read
  std::string code;   // malformed | bad_request | unknown_command | ... (docs/protocol.md)
  std::string message;
};

using ParsedControlRequest = std::variant<ControlRequest, ControlError>;
ParsedControlRequest parse_control_request(std::string_view line);

// {"ok":false,"code":...,"error":...,"id":...}
nlohmann::json error_reply(const ControlError& error);

// Serializes a reply for the socket: invalid UTF-8 is replaced, never thrown on.
std::string reply_line(const nlohmann::json& reply);

}  // namespace memvisor
