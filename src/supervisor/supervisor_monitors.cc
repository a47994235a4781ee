// The supervisor's exec monitors: the runner on its loop, its values handed on as gauges, its
// failures logged as events, its last outcomes in status.
#include <chrono>

#include "os/cgroup_memory_reader.h"
#include "os/log_sink.h"
#include "supervisor/supervisor.h"

namespace memvisor {
namespace {

double monitors_steady_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

void Supervisor::start_monitors() {
  ExecMonitors::Options options;
  // MEMVISOR_CGROUP is absolute: the fleet names an instance's cgroup within the hierarchy.
  if (auto cgroups = CgroupMemoryReader::detect(); cgroups)
    options.cgroup_root = cgroups->hierarchy();
  monitors_ = std::make_unique<ExecMonitors>(
      *loop_, fleet_,
      [this](const ExecMonitors::Key& key, std::string_view name, double value, double now_s) {
        on_monitor_value(key, name, value, now_s);
      },
      [this](nlohmann::json event) { log_event(std::move(event)); }, options);
}

void Supervisor::update_monitors() {
  if (monitors_) monitors_->update(monitors_steady_now());
}

void Supervisor::on_monitor_value(const ExecMonitors::Key& key, std::string_view name, double value,
                                  double now_s) {
  // The gauges' one entry point: status, /metrics (memvisor_worker_value) and `gauge:NAME` rules
  // see a monitor's value as they see a worker's. The rules judge it at the next memory sample.
  memory_.on_gauge(key, name, value, now_s);
  state_changed_ = true;
}

nlohmann::json Supervisor::monitors_json(const nlohmann::json& record) const {
  nlohmann::json monitors = nlohmann::json::object();
  if (!monitors_) return monitors;
  const ExecMonitors::Key key{record.value("service", ""), record.value("instance", 0),
                              record.value("generation", 0)};
  const double now_s = monitors_steady_now();
  for (const auto& [name, last] : monitors_->last(key)) {
    nlohmann::json entry = {{"value", last.value ? nlohmann::json(*last.value) : nlohmann::json()}};
    if (last.value) entry["age_s"] = std::max(0.0, now_s - last.value_at_s);
    if (!last.error.empty()) entry["error"] = last.error;
    monitors[name] = std::move(entry);
  }
  return monitors;
}

}  // namespace memvisor
