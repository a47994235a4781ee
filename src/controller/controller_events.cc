// Every lifecycle event goes three ways: a JSON line in STATE_DIR/events.jsonl, a line on stderr
// (os/log_sink: text or JSON, journald's priority), and a message to the supervisor that keeps its
// state from them.
#include <unistd.h>

#include <fmt/format.h>

#include <cstdlib>

#include "controller/controller.h"
#include "core/protocol/notify_protocol.h"
#include "os/log_sink.h"
#include "os/notify_socket.h"

namespace memvisor {

std::string_view to_string(InstanceState state) {
  switch (state) {
    case InstanceState::starting:
      return "starting";
    case InstanceState::running:
      return "running";
    case InstanceState::stopping:
      return "stopping";
    case InstanceState::backoff:
      return "backoff";
    case InstanceState::open:
      return "crash-loop";
    case InstanceState::stopped:
      return "stopped";
    case InstanceState::retired:
      return "retired";
  }
  return "?";
}

Event Controller::child_event(std::string_view name, const Instance& instance, int child,
                              std::string_view reason, std::string message) const {
  Event event = make_event(name, &instance, reason, std::move(message));
  event.pid = child;
  event.extra["child"] = child;
  return event;
}

Event Controller::make_event(std::string_view name, const Instance* instance,
                             std::string_view reason, std::string message) const {
  Event event;
  event.ts = std::chrono::system_clock::now();
  event.event = std::string(name);
  event.reason = std::string(reason);
  event.message = std::move(message);
  if (instance != nullptr) {
    event.service = instance->service->name;
    event.instance = instance->number;
    event.pid = instance->pid;
    event.extra["generation"] = instance->generation;
  }
  return event;
}

void Controller::emit(Event event, const Instance* instance) {
  nlohmann::json json = to_json(event);
  const std::string line = json.dump();
  if (events_log_) {
    // Each time: a reload may have changed the limits.
    events_log_->set_rotation(
        {options_.config.supervisor.events_max_size, options_.config.supervisor.events_keep});
    log_write_outcome(events_outage_, events_log_->append_line(line));
  }
  log_event_line(event);
  if (supervisor_link_) {
    json["type"] = "event";
    if (instance != nullptr) json["state"] = instance_json(*instance);
    supervisor_link_->send_line(json.dump());
  }
}

void Controller::notify_manager_status() {
  int ready = 0;
  for (const auto& instance : instances_) ready += instance->state == InstanceState::running;
  const int total = static_cast<int>(instances_.size());
  std::string message = fmt::format("STATUS={}/{} instances ready", ready, total);
  // READY=1 once, when the whole pool first comes up, so `systemctl start` returns at the right
  // time.
  if (!told_manager_ready_ && ready == total) {
    told_manager_ready_ = true;
    message = "READY=1\n" + message;
  }
  (void)notify_service_manager(message);
}

void Controller::start_manager_watchdog() {
  manager_watchdog_ = service_watchdog_timeout(std::getenv("WATCHDOG_USEC"),
                                               std::getenv("WATCHDOG_PID"), ::getpid());
  if (manager_watchdog_) ping_manager_watchdog(now());
}

// Only this loop's health is vouched for, not the supervisor's. A supervisor that is dead is
// restarted by us (controller_supervisor.cc); withholding the ping for a supervisor that hangs
// would make systemd kill the whole unit, every worker with it, for a fault that the design keeps
// away from the workers. What systemd must catch is the one process that cannot be replaced from
// inside: the controller.
void Controller::ping_manager_watchdog(MonoTime t) {
  (void)notify_service_manager("WATCHDOG=1");
  // Half the timeout, as sd_watchdog_enabled(3) advises: one late wake-up does not trip it.
  manager_watchdog_at_ = t + std::chrono::duration_cast<MonoTime::duration>(*manager_watchdog_ / 2);
}

}  // namespace memvisor
