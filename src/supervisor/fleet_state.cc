#include "supervisor/fleet_state.h"

#include <fmt/format.h>

#include <algorithm>

#include "core/config/config_json.h"

namespace memvisor {

std::vector<std::string> FleetState::lost_listens(const std::string& service) const {
  auto found = lost_listens_.find(service);
  return found == lost_listens_.end() ? std::vector<std::string>{} : found->second;
}

bool FleetState::apply(const nlohmann::json& message) {
  if (!message.is_object()) return false;
  const std::string type = message.value("type", "");
  if (type == "snapshot") {
    auto config = config_from_json(message.value("config", nlohmann::json::object()));
    if (!config) return false;
    config_ = std::move(*config);
    controller_pid_ = message.value("controller_pid", 0);
    if (auto restarts = message.find("supervisor_restarts");
        restarts != message.end() && restarts->is_number_integer() && *restarts >= 0) {
      supervisor_restarts_ = restarts->get<uint64_t>();
    }
    processes_.clear();
    for (const auto& record : message.value("instances", nlohmann::json::array())) {
      update_instance(record);
    }
    lost_listens_.clear();
    // Named: items() refers into it, and a temporary would be gone before the loop runs.
    const nlohmann::json lost = message.value("lost_listens", nlohmann::json::object());
    for (const auto& [service, addresses] : lost.items()) {
      for (const auto& address : addresses)
        if (address.is_string()) lost_listens_[service].push_back(address.get<std::string>());
    }
    has_snapshot_ = true;
    return true;
  }
  if (type == "config") {  // a reload: the same fleet under a new config
    auto config = config_from_json(message.value("config", nlohmann::json::object()));
    if (!config) return false;
    config_ = std::move(*config);
    return true;
  }
  if (type == "event") {
    if (message.contains("state")) update_instance(message["state"]);
    const std::string event = message.value("event", "");
    const std::pair<std::string, int> key{message.value("service", ""),
                                          message.value("instance", 0)};
    const std::string reason = message.value("reason", "unknown");
    // Every start after an instance's first is a restart (the controller's own count). It is a
    // recycle when it replaces a live process: a surge's replacement, or a stop-first or urgent
    // recycle's new start (the instance is still marked recycling then).
    if (event == "started" && message.value("generation", 0) > 1) {
      ++restarts_[key][reason];
      const nlohmann::json state = message.value("state", nlohmann::json::object());
      if (state.value("role", "primary") == "replacement" || state.value("recycling", false)) {
        ++recycles_[key][reason];
      }
    }
    // A pre-fork child's recycle starts with this event once (queued ones when they leave the
    // queue); the master, not the controller, starts its replacement.
    if (event == "recycle" && message.contains("child")) ++child_recycles_[key][reason];
    if (event == "listen_lost" || event == "listen_restored") {
      std::vector<std::string>& lost = lost_listens_[key.first];
      const std::string address = message.value("address", "");
      std::erase(lost, address);
      if (event == "listen_lost") lost.push_back(address);
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
  FleetProcess process;
  process.service = record.value("service", "");
  process.instance = record.value("instance", 0);
  process.generation = record.value("generation", 0);
  if (process.service.empty() || process.instance <= 0) return;
  std::vector<FleetProcess>& processes = processes_[process.service];
  const auto same_or_after = [&](const FleetProcess& p) {
    return std::pair(p.instance, p.generation) >= std::pair(process.instance, process.generation);
  };
  auto at = std::find_if(processes.begin(), processes.end(), same_or_after);
  const bool known = at != processes.end() && at->instance == process.instance &&
                     at->generation == process.generation;
  process.state = record.value("state", "");
  process.primary = record.value("role", "primary") == "primary";
  // A replacement takes its generation when its process starts: until then (and for good when
  // it could not start) it carries the generation of the process it would replace, and names
  // no process of its own.
  if (known && at->primary && !process.primary) return;
  if (process.state == "retired") {
    if (known) processes.erase(at);
    return;
  }
  process.pid = record.value("pid", 0);
  process.recycling = record.value("recycling", false);
  process.cgroup = record.value("cgroup", "");
  process.start_ticks = record.value("start_ticks", 0ULL);
  if (auto t = record.find("started_at"); t != record.end() && t->is_number()) {
    process.started_at = t->get<double>();
  }
  process.record = record;
  const FleetProcess& stored =
      known ? (*at = std::move(process)) : *processes.insert(at, std::move(process));
  // A primary of generation G supersedes every older generation of its instance number.
  if (stored.primary) {
    const int number = stored.instance;
    const int generation = stored.generation;
    std::erase_if(processes, [&](const FleetProcess& p) {
      return p.instance == number && p.generation < generation;
    });
  }
}

const FleetState::RestartCounts& FleetState::restarts(const std::string& service,
                                                      int instance) const {
  static const RestartCounts kNone;
  auto found = restarts_.find({service, instance});
  return found == restarts_.end() ? kNone : found->second;
}

const FleetState::RestartCounts& FleetState::recycles(const std::string& service,
                                                      int instance) const {
  static const RestartCounts kNone;
  auto found = recycles_.find({service, instance});
  return found == recycles_.end() ? kNone : found->second;
}

const FleetState::RestartCounts& FleetState::child_recycles(const std::string& service,
                                                            int instance) const {
  static const RestartCounts kNone;
  auto found = child_recycles_.find({service, instance});
  return found == child_recycles_.end() ? kNone : found->second;
}

const std::vector<FleetProcess>& FleetState::processes(const std::string& service) const {
  static const std::vector<FleetProcess> kNone;
  auto found = processes_.find(service);
  return found == processes_.end() ? kNone : found->second;
}

std::string FleetState::no_service(std::string_view name) const {
  if (const size_t dot = name.rfind('.'); dot != std::string_view::npos) {
    if (const ServiceConfig* service = config_.service(name.substr(0, dot))) {
      return fmt::format("no instance {} ({} has {}, numbered from 1)", name, service->name,
                         service->instances);
    }
  }
  return fmt::format("no service '{}'", name);
}

std::vector<int> FleetState::serving_instances(const std::string& service) const {
  std::vector<int> numbers;
  for (const FleetProcess& p : processes(service)) {  // in instance order
    // A crash loop's half-open try is on probation until it has run min_uptime (its circuit
    // then closes): counted at once, a try that served a second and crashed again made the
    // ready count blink to 1 at every cool-down, resetting the shipped ServiceDown alert.
    const bool on_probation = p.record.value("circuit", "closed") == "half-open";
    if (p.pid != 0 && p.state == "running" && !on_probation &&
        (numbers.empty() || numbers.back() != p.instance))
      numbers.push_back(p.instance);
  }
  return numbers;
}

bool FleetState::serving(const std::string& service, int number) const {
  const std::vector<int> numbers = serving_instances(service);
  return std::binary_search(numbers.begin(), numbers.end(), number);
}

nlohmann::json FleetState::status(WallTime now) const {
  const double now_s = to_unix_seconds(now);
  nlohmann::json services = nlohmann::json::array();
  nlohmann::json instances = nlohmann::json::array();
  for (const ServiceConfig& service : config_.services) {
    int ready = 0;
    const std::vector<int> serving = serving_instances(service.name);
    for (const FleetProcess& process : processes(service.name)) {
      if (process.primary && std::binary_search(serving.begin(), serving.end(), process.instance))
        ++ready;
      nlohmann::json record = process.record;
      if (process.started_at && process.pid != 0) {
        record["uptime_s"] = std::max(0.0, now_s - *process.started_at);
      }
      instances.push_back(std::move(record));
    }
    nlohmann::json entry = {
        {"name", service.name}, {"instances", service.instances}, {"ready", ready}};
    // What `memvisor sample SERVICE.N` needs to choose the sampler as the supervisor would.
    if (service.heap_sampler) {
      entry["heap_sampler"] =
          service.heap_runtime ? std::string(runtime_name(*service.heap_runtime)) : "auto";
    }
    if (!service.pprof.empty()) entry["pprof"] = service.pprof;
    services.push_back(std::move(entry));
  }
  return {{"controller_pid", controller_pid_},
          {"config_source", config_.source},
          {"services", std::move(services)},
          {"instances", std::move(instances)}};
}

}  // namespace memvisor
