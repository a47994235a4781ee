#include "core/protocol/control_request.h"

#include <array>
#include <charconv>
#include <utility>

#include "core/incident/incident_id.h"
#include "core/observe/unit_name.h"

namespace memvisor {
namespace {

struct CommandName {
  std::string_view name;
  ControlCommand command;
};

constexpr std::array<CommandName, 11> kCommands{{{"status", ControlCommand::status},
                                                 {"ping", ControlCommand::ping},
                                                 {"restart", ControlCommand::restart},
                                                 {"stop", ControlCommand::stop},
                                                 {"start", ControlCommand::start},
                                                 {"dump", ControlCommand::dump},
                                                 {"incidents", ControlCommand::incidents},
                                                 {"incident", ControlCommand::incident},
                                                 {"memory_info", ControlCommand::memory_info},
                                                 {"reload", ControlCommand::reload},
                                                 {"series", ControlCommand::series}}};

constexpr size_t kMaxField = 256;

ControlError bad(nlohmann::json id, std::string message) {
  return {std::move(id), "bad_request", std::move(message)};
}

}  // namespace

std::optional<ControlTarget> parse_control_target(std::string_view text) {
  if (text.empty() || text.size() > kMaxField) return std::nullopt;
  auto name = parse_unit_name(text);
  if (!name) return std::nullopt;
  return ControlTarget{std::move(name->service), name->instance, name->child};
}

ParsedControlRequest parse_control_request(std::string_view line) {
  nlohmann::json request;
  try {
    request = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  } catch (const std::exception&) {  // defensive: allow_exceptions=false should never throw
    request = nlohmann::json(nlohmann::json::value_t::discarded);
  }
  if (request.is_discarded() || !request.is_object()) {
    return ControlError{nullptr, "malformed",
                        "malformed request: expected one JSON object per line"};
  }
  nlohmann::json id = nullptr;
  if (auto found = request.find("id"); found != request.end()) {
    if (!found->is_string() && !found->is_number_integer() && !found->is_null()) {
      return bad(nullptr, "\"id\" must be a string or an integer");
    }
    if (found->is_string() && found->get_ref<const std::string&>().size() > kMaxField) {
      return bad(nullptr, "\"id\" is longer than 256 bytes");
    }
    id = *found;
  }
  const auto cmd = request.find("cmd");
  if (cmd == request.end()) return bad(id, "missing \"cmd\"");
  if (!cmd->is_string()) return bad(id, "\"cmd\" must be a string, e.g. \"status\"");
  const std::string& name = cmd->get_ref<const std::string&>();
  const CommandName* known = nullptr;
  for (const CommandName& c : kCommands) {
    if (c.name == name) known = &c;
  }
  if (known == nullptr) {
    const std::string shown = name.size() > 64 ? name.substr(0, 64) + "…" : name;
    return ControlError{id, "unknown_command", "unknown command '" + shown + "'"};
  }
  ControlRequest parsed;
  parsed.id = id;
  parsed.command = known->command;
  switch (parsed.command) {
    case ControlCommand::restart:
    case ControlCommand::stop:
    case ControlCommand::start:
    case ControlCommand::dump:
    case ControlCommand::memory_info: {
      const bool one_instance =
          parsed.command == ControlCommand::dump || parsed.command == ControlCommand::memory_info;
      const auto target = request.find("target");
      if (target == request.end() || !target->is_string()) {
        return bad(id, one_instance ? "missing \"target\" (SERVICE.N)"
                                    : "missing \"target\" (SERVICE or SERVICE.N)");
      }
      auto parsed_target = parse_control_target(target->get_ref<const std::string&>());
      if (!parsed_target) return bad(id, "\"target\" must be SERVICE or SERVICE.N");
      if (parsed_target->child != 0 && parsed.command != ControlCommand::dump) {
        return bad(id, name + " takes SERVICE or SERVICE.N, not a pre-fork child");
      }
      if (one_instance && parsed_target->instance == 0) {
        return bad(id, name + " needs one instance: SERVICE.N");
      }
      parsed.target = std::move(*parsed_target);
      break;
    }
    case ControlCommand::incident: {
      const auto incident = request.find("incident");
      if (incident == request.end() || !incident->is_string()) {
        return bad(id, "missing \"incident\" (an id from the incidents command)");
      }
      if (!is_valid_incident_id(incident->get_ref<const std::string&>())) {
        return ControlError{id, "not_found", "no incident with that id"};
      }
      parsed.incident = incident->get<std::string>();
      break;
    }
    case ControlCommand::series: {
      // Both optional: every unit of the fleet, the last 120 samples of each.
      if (const auto target = request.find("target"); target != request.end()) {
        auto parsed_target = target->is_string()
                                 ? parse_control_target(target->get_ref<const std::string&>())
                                 : std::nullopt;
        if (!parsed_target)
          return bad(id, "\"target\" must be SERVICE, SERVICE.N or SERVICE.N/PID");
        parsed.target = std::move(*parsed_target);
      }
      if (const auto points = request.find("points"); points != request.end()) {
        if (!points->is_number_integer() || points->get<int64_t>() < 1 ||
            points->get<int64_t>() > kSeriesRequestMaxPoints) {
          return bad(id, "\"points\" must be an integer from 1 to 8640");
        }
        parsed.points = points->get<int>();
      }
      break;
    }
    default:
      break;
  }
  return parsed;
}

nlohmann::json error_reply(const ControlError& error) {
  nlohmann::json reply = {{"ok", false}, {"code", error.code}, {"error", error.message}};
  if (!error.id.is_null()) reply["id"] = error.id;
  return reply;
}

std::string reply_line(const nlohmann::json& reply) {
  return reply.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace memvisor
