// restart / stop / start from the control socket: the target is checked against the fleet, then
// forwarded to the controller (which checks it again) and answered when the controller replies.
#include <fmt/format.h>

#include <charconv>

#include "supervisor/supervisor.h"

namespace memvisor {
namespace {

struct Target {
  std::string service;
  int instance = 0;  // 0: every instance of the service
};

// "web" or "web.2".
std::optional<Target> parse_target(std::string_view text) {
  Target target;
  const size_t dot = text.rfind('.');
  if (dot != std::string_view::npos) {
    const std::string_view number = text.substr(dot + 1);
    const auto [end, ec] =
        std::from_chars(number.data(), number.data() + number.size(), target.instance);
    if (ec == std::errc{} && end == number.data() + number.size() && target.instance > 0) {
      text = text.substr(0, dot);
    } else {
      target.instance = 0;
    }
  }
  target.service = std::string(text);
  if (target.service.empty()) return std::nullopt;
  return target;
}

nlohmann::json not_found(std::string message) {
  return {{"ok", false}, {"code", "not_found"}, {"error", std::move(message)}};
}

}  // namespace

std::optional<nlohmann::json> Supervisor::forward_lifecycle(
    const nlohmann::json& request, const std::shared_ptr<LineChannel>& client) {
  const std::string cmd = request["cmd"];
  const auto text = request.find("target");
  if (text == request.end() || !text->is_string()) {
    return nlohmann::json{{"ok", false}, {"error", "missing \"target\" (SERVICE or SERVICE.N)"}};
  }
  const auto target = parse_target(text->get<std::string>());
  if (!target) return not_found("empty target");
  const ServiceConfig* service = nullptr;
  for (const ServiceConfig& candidate : fleet_.config().services) {
    if (candidate.name == target->service) service = &candidate;
  }
  if (service == nullptr) return not_found(fmt::format("no service '{}'", target->service));
  if (target->instance > service->instances) {
    return not_found(fmt::format("no instance {}.{} ({} has {})", target->service, target->instance,
                                 target->service, service->instances));
  }
  if (!controller_ || controller_->closed()) {
    return nlohmann::json{{"ok", false}, {"error", "the controller is not reachable"}};
  }

  const int64_t id = next_request_id_++;
  const std::string label = target->instance > 0
                                ? fmt::format("{}.{}", target->service, target->instance)
                                : target->service;
  const std::string verb = cmd == "restart" ? "restarting"
                           : cmd == "stop"  ? "stopping"
                                            : "starting";
  pending_[id] = PendingRequest{client, request.value("id", nlohmann::json()), verb + " " + label};
  nlohmann::json forward = {{"type", "request"},
                            {"id", id},
                            {"action", cmd == "restart" ? "recycle" : cmd},
                            {"service", target->service},
                            {"instance", target->instance},
                            {"reason", "operator"}};
  controller_->send_line(forward.dump());
  return std::nullopt;
}

void Supervisor::on_controller_reply(const nlohmann::json& reply) {
  const auto id = reply.find("id");
  if (id == reply.end() || !id->is_number_integer()) return;
  auto pending = pending_.find(id->get<int64_t>());
  if (pending == pending_.end()) return;
  PendingRequest request = std::move(pending->second);
  pending_.erase(pending);
  auto client = request.client.lock();
  if (!client || client->closed()) return;
  nlohmann::json answer = {{"ok", reply.value("ok", false)}};
  if (answer["ok"]) {
    answer["message"] = request.done;
  } else {
    answer["error"] = reply.value("error", "refused by the controller");
  }
  if (!request.client_id.is_null()) answer["id"] = request.client_id;
  client->send_line(answer.dump());
}

}  // namespace memvisor
