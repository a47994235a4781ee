#include "core/observe/event.h"

#include <fmt/format.h>

#include "core/observe/json_fields.h"
#include "core/observe/unit_name.h"

namespace memvisor {

nlohmann::json to_json(const Event& event) {
  nlohmann::json json = {
      {"ts", format_rfc3339(event.ts)}, {"event", event.event}, {"service", event.service},
      {"instance", event.instance},     {"pid", event.pid},     {"reason", event.reason},
  };
  if (!event.message.empty()) json["message"] = event.message;
  for (const auto& [key, value] : event.extra.items()) json[key] = value;
  return json;
}

Event event_from_json(const nlohmann::json& json) {
  static const char* const kCommon[] = {"ts",  "event",  "service", "instance",
                                        "pid", "reason", "message", "type"};
  Event event;
  // Read back from events.jsonl: a field of the wrong type is absent, not an exception.
  event.event = string_field(json, "event");
  event.service = string_field(json, "service");
  event.instance = static_cast<int>(integer_field(json, "instance"));
  event.pid = static_cast<int>(integer_field(json, "pid"));
  event.reason = string_field(json, "reason");
  event.message = string_field(json, "message");
  if (!json.is_object()) return event;
  for (const auto& [key, value] : json.items()) {
    bool common = false;
    for (const char* name : kCommon) common = common || key == name;
    if (!common) event.extra[key] = value;
  }
  return event;
}

std::string human_line(const Event& event) {
  std::string line = event.message.empty() ? event.event : event.message;
  if (!event.service.empty()) {
    // A pre-fork child's events carry its pid as "child": "web.1/12345".
    const auto child = event.extra.find("child");
    const int child_pid =
        child != event.extra.end() && child->is_number_integer() ? child->get<int>() : 0;
    const std::string subject = unit_name(event.service, event.instance, child_pid);
    line = subject + ": " + line;
  }
  std::string details;
  if (event.pid > 0) details += fmt::format("pid {}", event.pid);
  if (!event.reason.empty()) {
    if (!details.empty()) details += ", ";
    details += "reason " + event.reason;
  }
  if (!details.empty()) line += " (" + details + ")";
  return line;
}

}  // namespace memvisor
