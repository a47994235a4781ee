// What follows an instance's exit: the restart policy, backoff, the crash-loop circuit, and the
// deadlines that watch a running instance (readiness, watchdog, min_uptime).
#include <fmt/format.h>

#include "controller/controller.h"
#include "core/units.h"

namespace memvisor {

void Controller::on_instance_exit(Instance& instance, const ExitStatus& status) {
  const MonoTime t = now();
  loop_->remove(instance.pidfd.get());
  instance.pidfd.reset();
  close_notify_socket(instance);
  const bool was_stopping = instance.state == InstanceState::stopping;
  // Read before the cgroup goes. A stop we asked for that ended in an OOM kill is still the stop.
  const auto oom_kill = was_stopping ? std::nullopt : oom_kill_evidence(instance, status);
  release_cgroup(instance);  // its process group is dead already; strays in the cgroup die now
  const pid_t pid = instance.pid;
  remove_sampler_files(instance, pid);
  if (instance.replaces == nullptr) drop_child_recycles(instance);  // its children died with it
  instance.last_pid = pid;
  instance.pid = 0;
  instance.main_pid = 0;
  instance.last_exit = status;
  const std::string reason = was_stopping       ? instance.stop_reason
                             : oom_kill         ? "oom_kill"
                             : status.success() ? "exit"
                                                : "crash";
  instance.last_exit_reason = reason;

  Event exited = make_event("exited", &instance, reason,
                            status.describe() + (oom_kill ? " by the kernel's OOM killer" : ""));
  if (oom_kill) exited.extra["oom"] = *oom_kill;
  exited.pid = pid;
  if (status.signaled) {
    exited.extra["signal"] = signal_name(status.signal);
  } else {
    exited.extra["code"] = status.code;
  }
  exited.extra["uptime_ms"] =
      std::chrono::duration_cast<std::chrono::milliseconds>(t - instance.started_mono).count();
  if (oom_kill) remember_oom_kill(exited);  // until the supervisor has surely bundled it
  emit(std::move(exited), &instance);

  if (instance.removing) {  // a reload took it away: no restart, no recycle to finish
    if (instance.replaces != nullptr) instance.replaces->replacement = nullptr;
    if (instance.replacement != nullptr) instance.replacement->replaces = nullptr;
    instance.replaces = instance.replacement = nullptr;
    instance.recycling = false;
    instance.state = InstanceState::retired;
    instance.deadline.reset();
    close_output(instance, instance.out);
    close_output(instance, instance.err);
    emit(make_event("retired", &instance, reason, "removed by a reload"), &instance);
    return;
  }
  if (instance.replaces != nullptr) {  // a replacement that died before it was ready
    finish_recycle(instance, false);
    return;
  }
  if (instance.replacement != nullptr) {  // the old process of a surge recycle is gone
    finish_recycle(*instance.replacement, true);
    return;
  }
  const bool failed = !instance.stable;
  if (instance.recycling && was_stopping && instance.after_stop == AfterStop::restart &&
      !shutting_down_) {
    // A stop-first recycle: start again at once, no backoff; the slot frees when it is ready.
    // Unless a rule stopped a run shorter than min_uptime (critical memory within seconds of
    // every start): that run failed, so the restart delay, backoff and crash-loop circuit apply,
    // or a runaway is restarted, and bundled, in a tight loop whose new bundles push out the
    // first ones.
    const bool asked = instance.recycle_reason == "operator" || instance.recycle_reason == "reload";
    if (!failed || asked) {
      start_instance(instance, instance.recycle_reason);
      return;
    }
    instance.recycling = false;
    schedule_restart(instance, instance.recycle_reason, true);
    start_queued_recycles(*instance.service);
    return;
  }
  instance.recycling = false;
  if (shutting_down_ || (was_stopping && instance.after_stop == AfterStop::stay_stopped)) {
    instance.state = InstanceState::stopped;
    instance.stopped_on_purpose = true;
    instance.deadline.reset();
    emit(make_event("stopped", &instance, reason, "stopped"), &instance);
    return;
  }
  if (was_stopping) {  // a restart we asked for: recycle, watchdog, startup timeout
    schedule_restart(instance, reason, failed && reason != "recycle");
    return;
  }
  const RestartPolicy policy = instance.service->restart;
  if (policy == RestartPolicy::never || (policy == RestartPolicy::on_failure && status.success())) {
    instance.state = InstanceState::stopped;
    instance.stopped_on_purpose = status.success();
    instance.deadline.reset();
    emit(make_event("stopped", &instance, reason,
                    policy == RestartPolicy::never
                        ? "not restarting (restart = never)"
                        : "exited cleanly; not restarting (restart = on-failure)"),
         &instance);
    return;
  }
  schedule_restart(instance, reason, failed);
}

void Controller::after_failed_run(Instance& instance, std::string_view reason) {
  if (instance.replaces != nullptr) {  // the replacement of a surge recycle could not start
    finish_recycle(instance, false);
    return;
  }
  if (shutting_down_ || instance.service->restart == RestartPolicy::never) {
    instance.state = InstanceState::stopped;
    instance.deadline.reset();
    return;
  }
  schedule_restart(instance, reason, true);
}

void Controller::schedule_restart(Instance& instance, std::string_view reason, bool failed) {
  const ServiceConfig& service = *instance.service;
  const MonoTime t = now();
  int failures = 0;
  if (failed) {
    if (instance.circuit.record_failure(t)) {
      instance.state = InstanceState::open;
      instance.deadline.reset();
      Event event = make_event("circuit_open", &instance, reason,
                               fmt::format("crash loop: {} failed starts in a row; next try in {}",
                                           instance.circuit.consecutive_failures(),
                                           format_duration(service.circuit_cooldown)));
      event.extra["consecutive_failures"] = instance.circuit.consecutive_failures();
      event.extra["cooldown_ms"] = service.circuit_cooldown.count();
      emit(std::move(event), &instance);
      return;
    }
    failures = instance.circuit.consecutive_failures();
  }
  const BackoffPolicy policy{service.restart_delay, service.restart_backoff,
                             service.restart_delay_max};
  const auto delay = backoff_delay(policy, failures);
  instance.state = InstanceState::backoff;
  instance.deadline = t + delay;
  Event event = make_event(failed ? "backoff" : "restart", &instance, reason,
                           fmt::format("restarting in {}", format_duration(delay)));
  event.extra["delay_ms"] = delay.count();
  if (failed) event.extra["consecutive_failures"] = failures;
  emit(std::move(event), &instance);
}

void Controller::set_ready(Instance& instance) {
  if (instance.state != InstanceState::starting) return;
  const MonoTime t = now();
  instance.state = InstanceState::running;
  instance.ever_ready = true;
  instance.ready_mono = t;
  instance.last_watchdog = t;
  Event event =
      make_event("ready", &instance,
                 instance.service->ready == ReadyMode::notify ? "notify" : "immediate", "ready");
  event.extra["startup_ms"] =
      std::chrono::duration_cast<std::chrono::milliseconds>(t - instance.started_mono).count();
  emit(std::move(event), &instance);
  notify_manager_status();
  if (instance.replaces != nullptr) {
    // The replacement serves now: the old process can go, gracefully.
    begin_stop(*instance.replaces, instance.recycle_reason, AfterStop::stay_stopped);
  } else if (instance.recycling) {
    instance.recycling = false;  // a stop-first recycle is complete once it is ready again
    start_queued_recycles(*instance.service);
  }
}

void Controller::mark_stable(Instance& instance) {
  instance.stable = true;
  instance.young_limit_recycles = 0;
  if (instance.circuit.record_success()) {
    emit(make_event("circuit_closed", &instance, "stable",
                    fmt::format("ran {} after a half-open try: crash loop over",
                                format_duration(instance.service->min_uptime))),
         &instance);
  }
}

std::optional<MonoTime> Controller::instance_deadline(const Instance& instance) const {
  const ServiceConfig& service = *instance.service;
  switch (instance.state) {
    case InstanceState::starting:
      if (service.ready == ReadyMode::notify)
        return instance.started_mono + service.startup_timeout;
      return std::nullopt;
    case InstanceState::running: {
      std::optional<MonoTime> earliest = instance.outdated_retry_at;
      if (instance.limit_recycle_at && (!earliest || *instance.limit_recycle_at < *earliest))
        earliest = instance.limit_recycle_at;
      if (!instance.stable && (!earliest || instance.started_mono + service.min_uptime < *earliest))
        earliest = instance.started_mono + service.min_uptime;
      if (service.watchdog.count() > 0) {
        const MonoTime watchdog = instance.last_watchdog + service.watchdog;
        if (!earliest || watchdog < *earliest) earliest = watchdog;
      }
      return earliest;
    }
    case InstanceState::stopping:
    case InstanceState::backoff:
      return instance.deadline;
    case InstanceState::open:
      return instance.circuit.retry_at();
    case InstanceState::retired:
    case InstanceState::stopped:
      return std::nullopt;
  }
  return std::nullopt;
}

void Controller::on_instance_deadline(Instance& instance, MonoTime t) {
  const auto due = instance_deadline(instance);
  if (!due || t < *due) return;
  const ServiceConfig& service = *instance.service;
  switch (instance.state) {
    case InstanceState::starting: {
      Event event =
          make_event("startup_timeout", &instance, "startup_timeout",
                     fmt::format("not ready after {}", format_duration(service.startup_timeout)));
      emit(std::move(event), &instance);
      begin_stop(instance, "startup_timeout", AfterStop::restart);
      break;
    }
    case InstanceState::running:
      if (!instance.stable && t >= instance.started_mono + service.min_uptime)
        mark_stable(instance);
      retry_outdated(instance, t);
      if (instance.limit_recycle_at && t >= *instance.limit_recycle_at) {
        recycle(instance, "limit", /*urgent=*/false);
        instance.limit_recycle_at.reset();  // done, or moot (the process is on its way out)
      }
      if (service.watchdog.count() > 0 && t >= instance.last_watchdog + service.watchdog) {
        emit(make_event("watchdog_timeout", &instance, "watchdog",
                        fmt::format("no WATCHDOG=1 for {}", format_duration(service.watchdog))),
             &instance);
        begin_stop(instance, "watchdog", AfterStop::restart);
      }
      break;
    case InstanceState::stopping:
      escalate_stop(instance);
      break;
    case InstanceState::backoff:
    case InstanceState::open:
      instance.deadline.reset();
      start_instance(instance,
                     instance.last_exit_reason.empty() ? "restart" : instance.last_exit_reason);
      break;
    case InstanceState::retired:
    case InstanceState::stopped:
      break;
  }
}

}  // namespace memvisor
