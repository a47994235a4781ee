#include "core/observe/event.h"

#include <fmt/format.h>

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
  event.event = json.value("event", "");
  event.service = json.value("service", "");
  event.instance = json.value("instance", 0);
  event.pid = json.value("pid", 0);
  event.reason = json.value("reason", "");
  event.message = json.value("message", "");
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
