#include "supervisor/fleet_state.h"

#include "core/config_json.h"

namespace memvisor {

bool FleetState::apply(const nlohmann::json& message) {
  if (!message.is_object()) return false;
  const std::string type = message.value("type", "");
  if (type == "snapshot") {
    auto config = config_from_json(message.value("config", nlohmann::json::object()));
    if (!config) return false;
    config_ = std::move(*config);
    controller_pid_ = message.value("controller_pid", 0);
    instances_.clear();
    for (const auto& record : message.value("instances", nlohmann::json::array())) {
      update_instance(record);
    }
    has_snapshot_ = true;
    return true;
  }
  if (type == "event") {
    if (message.contains("state")) update_instance(message["state"]);
    // Every start after an instance's first is a restart (the controller's own count).
    if (message.value("event", "") == "started" && message.value("generation", 0) > 1) {
      ++restarts_[{message.value("service", ""), message.value("instance", 0)}]
                 [message.value("reason", "unknown")];
    }
    return true;
  }
  if (type == "instance") {
    update_instance(message.value("instance", nlohmann::json::object()));
    return true;
  }
  return type == "reply";
}

void FleetState::update_instance(const nlohmann::json& record) {
  if (!record.is_object()) return;
  const std::string service = record.value("service", "");
  const int number = record.value("instance", 0);
  const int generation = record.value("generation", 0);
  if (service.empty() || number <= 0) return;
  if (record.value("state", "") == "retired") {
    instances_.erase({service, number, generation});
    return;
  }
  // A primary of generation G supersedes every older generation of its instance number.
  if (record.value("role", "primary") == "primary") {
    std::erase_if(instances_, [&](const auto& entry) {
      const auto& [s, n, g] = entry.first;
      return s == service && n == number && g < generation;
    });
  }
  instances_[{service, number, generation}] = record;
}

const FleetState::RestartCounts& FleetState::restarts(const std::string& service,
                                                      int instance) const {
  static const RestartCounts kNone;
  auto found = restarts_.find({service, instance});
  return found == restarts_.end() ? kNone : found->second;
}

std::vector<nlohmann::json> FleetState::processes(const std::string& service) const {
  std::vector<nlohmann::json> found;
  for (const auto& [key, record] : instances_) {
    if (std::get<0>(key) == service) found.push_back(record);
  }
  return found;
}

nlohmann::json FleetState::status(WallTime now) const {
  const double now_s = to_unix_seconds(now);
  nlohmann::json services = nlohmann::json::array();
  nlohmann::json instances = nlohmann::json::array();
  for (const ServiceConfig& service : config_.services) {
    int ready = 0;
    for (const auto& [key, stored] : instances_) {
      if (std::get<0>(key) != service.name) continue;
      nlohmann::json record = stored;
      if (record.value("state", "") == "running" && record.value("role", "") != "replacement")
        ++ready;
      if (record.contains("started_at") && record.value("pid", 0) != 0) {
        record["uptime_s"] = std::max(0.0, now_s - record["started_at"].get<double>());
      }
      instances.push_back(std::move(record));
    }
    services.push_back(
        {{"name", service.name}, {"instances", service.instances}, {"ready", ready}});
  }
  return {{"controller_pid", controller_pid_},
          {"config_source", config_.source},
          {"services", std::move(services)},
          {"instances", std::move(instances)}};
}

}  // namespace memvisor
