// Recycling without losing capacity: by default the replacement starts first (same instance
// number, next generation) and the old process is stopped only once the replacement is ready.
// At most `max_recycling` instances of a service recycle at once; the others queue. An urgent
// recycle (critical memory) skips both the queue and the surge.
#include <fmt/format.h>

#include <algorithm>

#include "controller/controller.h"
#include "core/lifecycle/backoff.h"
#include "core/units.h"

namespace memvisor {

int Controller::recycling_count(const ServiceConfig& service) const {
  return static_cast<int>(std::count_if(instances_.begin(), instances_.end(), [&](const auto& i) {
    return i->service == &service && i->replaces == nullptr && i->recycling &&
           i->state != InstanceState::retired;
  }));
}

void Controller::recycle(Instance& instance, std::string_view reason, bool urgent) {
  if (instance.state == InstanceState::retired || instance.replaces != nullptr) return;
  if (urgent) {
    // Memory is critical: no time for a replacement to warm up, and no waiting in line.
    instance.recycling = true;
    instance.recycle_reason = std::string(reason);
    begin_stop(instance, reason, AfterStop::restart);
    return;
  }
  if (reason == "limit" && !urgent && defer_young_limit_recycle(instance)) return;
  // An operator's restart during a recycle whose replacement was started before it (new code
  // deployed meanwhile): one more recycle once this one is over, so every process then was
  // started after the request. A rule's recycle of a process already on its way out is moot.
  const bool again = reason == "operator" && instance.replacement != nullptr;
  if (!again && (instance.recycling || instance.state == InstanceState::stopping)) return;
  if (instance.pid == 0) return;  // nothing running to recycle
  const ServiceConfig& service = *instance.service;
  if (again || recycling_count(service) >= service.max_recycling) {
    const bool queued = std::any_of(
        recycle_queue_.begin(), recycle_queue_.end(),
        [&](const auto& q) { return q.service == service.name && q.number == instance.number; });
    if (!queued) {
      recycle_queue_.push_back({service.name, instance.number, std::string(reason)});
      emit(make_event("recycle_queued", &instance, reason,
                      again ? std::string("recycle queued: its replacement was started before")
                            : fmt::format("recycle queued: {} of {} already recycling",
                                          recycling_count(service), service.max_recycling)),
           &instance);
    }
    return;
  }
  start_recycle(instance, reason);
}

bool Controller::defer_young_limit_recycle(Instance& instance) {
  if (instance.stable || instance.young_limit_recycles == 0 || instance.recycling ||
      instance.state != InstanceState::running) {
    return false;
  }
  const MonoTime t = now();
  if (!instance.limit_recycle_at) {
    // As a crash's restart delay grows: restart_delay, then × restart_backoff per recycle in a
    // row, up to restart_delay_max; counted from this process's start.
    const ServiceConfig& service = *instance.service;
    const Millis wait =
        backoff_delay({service.restart_delay, service.restart_backoff, service.restart_delay_max},
                      instance.young_limit_recycles);
    instance.limit_recycle_at = instance.started_mono + wait;
    if (t < *instance.limit_recycle_at) {
      emit(make_event("recycle_deferred", &instance, "limit",
                      fmt::format("past its limit within {} of its start, as the process before "
                                  "it ({} in a row): recycling {} after its start",
                                  format_duration(service.min_uptime),
                                  instance.young_limit_recycles + 1, format_duration(wait))),
           &instance);
    }
  }
  return t < *instance.limit_recycle_at;
}

void Controller::start_recycle(Instance& instance, std::string_view reason) {
  const ServiceConfig& service = *instance.service;
  instance.limit_recycle_at.reset();
  instance.recycling = true;
  instance.recycle_reason = std::string(reason);
  // A surge needs a ready instance to protect; one still starting is simply restarted.
  const bool surge = service.surge && instance.state == InstanceState::running;
  Event event = make_event("recycle", &instance, reason,
                           surge ? "recycling: starting a replacement first"
                                 : "recycling: stopping, then starting again");
  event.extra["surge"] = surge;
  emit(std::move(event), &instance);
  const int young_limit_recycles =
      reason == "limit" && !instance.stable ? instance.young_limit_recycles + 1 : 0;
  if (!surge) {
    instance.young_limit_recycles = young_limit_recycles;  // the same Instance starts again
    begin_stop(instance, reason, AfterStop::restart);
    return;
  }
  auto replacement = std::make_unique<Instance>(service, instance.number);
  replacement->generation = instance.generation;
  replacement->restarts = instance.restarts;
  replacement->replaces = &instance;
  replacement->recycle_reason = std::string(reason);
  // A young process recycled by its limit hands the count on: its replacement may be the next.
  replacement->young_limit_recycles = young_limit_recycles;
  instance.replacement = replacement.get();
  Instance& started = *replacement;
  instances_.push_back(std::move(replacement));
  start_instance(started, reason);
}

void Controller::finish_recycle(Instance& replacement, bool succeeded) {
  Instance& old = *replacement.replaces;
  Instance& gone = succeeded ? old : replacement;
  gone.state = InstanceState::retired;
  gone.recycling = false;
  gone.deadline.reset();
  close_output(gone, gone.out);
  close_output(gone, gone.err);
  if (!succeeded) {
    // Said while the two are still linked, so the record says "replacement": one that could not
    // start never took a generation of its own, and by generation alone the supervisor would
    // take it for the old process and stop watching the one that still runs.
    emit(make_event("retired", &gone, "recycle_failed", "retired"), &gone);
  }
  replacement.replaces = nullptr;
  old.replacement = nullptr;
  if (succeeded) {
    replacement.recycling = false;
    Event event =
        make_event("recycled", &replacement, replacement.recycle_reason,
                   fmt::format("replaced pid {} (generation {})", old.last_pid, old.generation));
    event.extra["old_pid"] = old.last_pid;
    event.extra["old_generation"] = old.generation;
    emit(std::move(event), &replacement);
    emit(make_event("retired", &gone, old.recycle_reason, "retired"), &gone);
  } else {
    old.recycling = false;
    const std::string why =
        replacement.last_exit ? replacement.last_exit->describe() : "could not start";
    if (old.state == InstanceState::stopping && old.after_stop == AfterStop::stay_stopped &&
        !shutting_down_) {
      // The replacement was ready and the old process is draining: it cannot be kept. Once it
      // has exited the instance starts again, or it would stay down for good.
      old.after_stop = AfterStop::restart;
      emit(make_event("recycle_failed", &old, old.recycle_reason,
                      fmt::format("replacement {} while pid {} was stopping; a new process starts "
                                  "once that one has exited",
                                  why, old.pid)),
           &old);
    } else if (old.recycle_reason == "reload" && !shutting_down_) {
      // The reloaded config does not start: the old process serves on, and the roll is tried
      // again, or the failed deploy would look done until a crash started the new command.
      const Millis pause = outdated_retry_pause(*old.service, old.outdated_failures++);
      old.outdated = true;
      old.outdated_why = why;
      old.outdated_retry_at = now() + pause;
      emit(make_event("recycle_failed", &old, old.recycle_reason,
                      fmt::format("replacement {} before it was ready; keeping pid {}, which runs "
                                  "the config from before the reload; trying again in {}",
                                  why, old.pid, format_duration(pause))),
           &old);
    } else {
      emit(make_event(
               "recycle_failed", &old, old.recycle_reason,
               fmt::format("replacement {} before it was ready; keeping pid {}", why, old.pid)),
           &old);
    }
  }
  start_queued_recycles(*old.service);
}

Millis Controller::outdated_retry_pause(const ServiceConfig& service, int failures) {
  // As a crash's restart delay grows, from 10 s at least (a replacement that cannot start costs a
  // start-up each time), up to restart_delay_max or 5 minutes, whichever is longer.
  const BackoffPolicy policy{std::max(service.restart_delay, Millis(10000)),
                             std::max(service.restart_backoff, 2.0),
                             std::max(service.restart_delay_max, Millis(5 * 60 * 1000))};
  return backoff_delay(policy, failures + 1);
}

void Controller::retry_outdated(Instance& instance, MonoTime t) {
  if (!instance.outdated_retry_at || t < *instance.outdated_retry_at) return;
  if (instance.state != InstanceState::running || instance.recycling ||
      instance.replacement != nullptr) {
    // Busy with another recycle: looked at again in a second (a stop or a crash meanwhile
    // starts the current config, which ends this).
    instance.outdated_retry_at = t + std::chrono::seconds(1);
    return;
  }
  instance.outdated_retry_at.reset();
  recycle(instance, "reload", /*urgent=*/false);
}

void Controller::start_queued_recycles(const ServiceConfig& service) {
  while (recycling_count(service) < service.max_recycling) {
    auto next = std::find_if(recycle_queue_.begin(), recycle_queue_.end(),
                             [&](const auto& q) { return q.service == service.name; });
    if (next == recycle_queue_.end()) return;
    const QueuedRecycle queued = *next;
    recycle_queue_.erase(next);
    for (auto& instance : instances_) {
      if (instance->service == &service && instance->number == queued.number &&
          instance->replaces == nullptr && instance->state == InstanceState::running &&
          !instance->recycling) {
        start_recycle(*instance, queued.reason);
        break;
      }
    }
  }
}

}  // namespace memvisor
