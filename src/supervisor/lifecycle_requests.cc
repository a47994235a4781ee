// restart / stop / start from the control socket: the target is checked against the fleet, then
// forwarded to the controller (which checks it again) and answered when the controller replies.
// reload goes the same way: the controller owns the config.
#include <fmt/format.h>

#include "supervisor/supervisor.h"

namespace memvisor {
namespace {

nlohmann::json not_found(std::string message) {
  return {{"ok", false}, {"code", "not_found"}, {"error", std::move(message)}};
}

}  // namespace

std::optional<nlohmann::json> Supervisor::forward_lifecycle(
    const ControlRequest& request, const std::shared_ptr<LineChannel>& client) {
  const std::string cmd = request.command == ControlCommand::restart ? "restart"
                          : request.command == ControlCommand::stop  ? "stop"
                                                                     : "start";
  const ControlTarget* target = &request.target;
  const ServiceConfig* service = fleet_.service(target->service);
  if (service == nullptr) return not_found(fleet_.no_service(target->service));
  if (target->instance > service->instances) {
    return not_found(fmt::format("no instance {}.{} ({} has {})", target->service, target->instance,
                                 target->service, service->instances));
  }
  if (!controller_ || controller_->closed()) {
    return nlohmann::json{
        {"ok", false}, {"code", "unavailable"}, {"error", "the controller is not reachable"}};
  }

  const int64_t id = next_request_id_++;
  const std::string label = target->instance > 0
                                ? fmt::format("{}.{}", target->service, target->instance)
                                : target->service;
  const std::string verb = cmd == "restart" ? "restarting"
                           : cmd == "stop"  ? "stopping"
                                            : "starting";
  pending_[id] = PendingRequest{client, request.id, verb + " " + label};
  nlohmann::json forward = {{"type", "request"},
                            {"id", id},
                            {"action", cmd == "restart" ? "recycle" : cmd},
                            {"service", target->service},
                            {"instance", target->instance},
                            {"reason", "operator"}};
  controller_->send_line(forward.dump());
  return std::nullopt;
}

std::optional<nlohmann::json> Supervisor::forward_reload(
    const ControlRequest& request, const std::shared_ptr<LineChannel>& client) {
  if (!controller_ || controller_->closed()) {
    return nlohmann::json{
        {"ok", false}, {"code", "unavailable"}, {"error", "the controller is not reachable"}};
  }
  const int64_t id = next_request_id_++;
  pending_[id] = PendingRequest{client, request.id, "reloaded"};
  controller_->send_line(
      nlohmann::json{{"type", "request"}, {"id", id}, {"action", "reload"}}.dump());
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
    if (reply.contains("changes")) answer["changes"] = reply.at("changes");
  } else {
    answer["code"] = reply.value("code", "refused");
    answer["error"] = reply.value("error", "refused by the controller");
  }
  if (!request.client_id.is_null()) answer["id"] = request.client_id;
  client->send_line(reply_line(answer));
}

}  // namespace memvisor
