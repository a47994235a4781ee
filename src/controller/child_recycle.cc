// Recycling a pre-fork server's child (prefork = true). The supervisor names the child by pid and
// start time; the controller checks in /proc that it is today a child of that instance's process
// and holds a pidfd on it, so a reused pid is never signalled. Then, one child per instance and
// at most max_recycling per service: prefork_signal, SIGKILL after prefork_timeout, and the next
// child only once the master is back at its child count. `critical` kills the child at once.
#include <fmt/format.h>

#include <algorithm>
#include <csignal>

#include "controller/controller.h"
#include "core/units.h"
#include "os/child_pidfd.h"
#include "os/proc.h"

namespace memvisor {
namespace {

// How often a child's exit and its master's children are looked at while a recycle is under way.
constexpr auto kChildPoll = std::chrono::milliseconds(100);
// After SIGKILL: the kernel takes it from here; waiting longer means the child is stuck in D.
constexpr auto kKillGrace = std::chrono::seconds(5);

}  // namespace

std::optional<std::string> Controller::recycle_child(const nlohmann::json& message) {
  const std::string service = message.value("service", "");
  const int number = message.value("instance", 0);
  const int pid = message.value("child", 0);
  const auto start_ticks = message.value("start_ticks", 0ULL);
  const std::string reason = message.value("reason", "supervisor");
  const bool urgent = message.value("urgent", false);
  Instance* instance = nullptr;
  for (auto& i : instances_) {
    if (i->service->name == service && i->number == number && i->replaces == nullptr &&
        i->state != InstanceState::retired) {
      instance = i.get();
    }
  }
  if (instance == nullptr) return fmt::format("no instance {}.{}", service, number);
  if (!instance->service->prefork) return fmt::format("service '{}' is not prefork", service);
  if (instance->pid == 0 || instance->state == InstanceState::stopping) {
    return fmt::format("{} has no running process", instance->label());
  }
  auto pidfd = open_child_pidfd(pid, instance->pid, start_ticks, options_.proc_root);
  if (!pidfd) return fmt::format("{}: {}", instance->label(), pidfd.error().message);

  if (urgent) {
    // Memory is critical: no signal to finish, no waiting in line; the master replaces it.
    Event event = child_event("recycle", *instance, pid, reason,
                              "recycling: killing the child now (SIGKILL)");
    event.extra["signal"] = "SIGKILL";
    emit(std::move(event), instance);
    (void)pidfd_signal(pidfd->get(), SIGKILL);
    remove_sampler_files(*instance, pid);
    return std::nullopt;
  }
  ChildRecycle recycle;
  recycle.service = service;
  recycle.instance = number;
  recycle.pid = pid;
  recycle.start_ticks = start_ticks;
  recycle.reason = reason;
  if (!child_recycles_.add(recycle)) return std::nullopt;  // asked before: once is enough
  const ChildRecycle* added = &child_recycles_.all().back();
  child_pidfds_.emplace(added, std::move(*pidfd));
  if (child_recycles_.under_way(service) >= instance->service->max_recycling ||
      child_recycles_.under_way(service, number) > 1) {
    emit(child_event("recycle_queued", *instance, pid, reason,
                     "recycle queued behind the children recycling now"),
         instance);
  }
  start_child_recycles(*instance->service);
  return std::nullopt;
}

void Controller::start_child_recycles(const ServiceConfig& service) {
  for (ChildRecycle* recycle : child_recycles_.startable(service.name, service.max_recycling)) {
    Instance* instance = find_instance(service.name, recycle->instance);
    const auto fd = child_pidfds_.find(recycle);
    if (instance == nullptr || instance->pid == 0 || fd == child_pidfds_.end()) {
      end_child_recycle(*recycle, nullptr, "", "");
      continue;
    }
    const size_t children = child_pids(instance->pid, options_.proc_root).size();
    ChildRecycleQueue::signalled(*recycle, children, now(), service.prefork_timeout);
    Event event = child_event("recycle", *instance, recycle->pid, recycle->reason,
                              fmt::format("recycling: {} to the child, its master replaces it",
                                          signal_name(service.prefork_signal)));
    event.extra["signal"] = signal_name(service.prefork_signal);
    emit(std::move(event), instance);
    // ESRCH: it exited meanwhile, which the next poll sees as its exit.
    (void)pidfd_signal(fd->second.get(), service.prefork_signal);
  }
}

void Controller::step_child_recycles(MonoTime t) {
  std::vector<ChildRecycle*> current;
  for (ChildRecycle& recycle : child_recycles_.all()) current.push_back(&recycle);
  std::vector<const ServiceConfig*> freed;
  for (ChildRecycle* recycle : current) {
    if (recycle->phase == ChildRecycle::Phase::queued) continue;
    Instance* instance = find_instance(recycle->service, recycle->instance);
    if (instance == nullptr || instance->pid == 0) {
      const ServiceConfig* service = instance != nullptr ? instance->service : nullptr;
      end_child_recycle(*recycle, nullptr, "", "");
      if (service != nullptr) freed.push_back(service);
      continue;
    }
    const ServiceConfig& service = *instance->service;
    const auto fd = child_pidfds_.find(recycle);
    const bool exited = fd == child_pidfds_.end() || pidfd_exited(fd->second.get());
    if (recycle->phase != ChildRecycle::Phase::replacing && exited) {
      ChildRecycleQueue::exited(*recycle, t, service.prefork_timeout);
    }
    switch (recycle->phase) {
      case ChildRecycle::Phase::queued:
        break;
      case ChildRecycle::Phase::signalled:
        if (t >= recycle->deadline) {
          Event event = child_event("stopping", *instance, recycle->pid, recycle->reason,
                                    fmt::format("still running {} after {}: SIGKILL",
                                                format_duration(service.prefork_timeout),
                                                signal_name(service.prefork_signal)));
          event.extra["signal"] = "SIGKILL";
          emit(std::move(event), instance);
          (void)pidfd_signal(fd->second.get(), SIGKILL);
          ChildRecycleQueue::killed(*recycle, t, kKillGrace);
        }
        break;
      case ChildRecycle::Phase::killed:
        if (t >= recycle->deadline) {
          end_child_recycle(*recycle, instance, "recycle_failed", "did not exit after SIGKILL");
          freed.push_back(&service);
        }
        break;
      case ChildRecycle::Phase::replacing: {
        const auto children = child_pids(instance->pid, options_.proc_root);
        if (ChildRecycleQueue::replaced(*recycle, children)) {
          end_child_recycle(
              *recycle, instance, "recycled",
              fmt::format("exited; the master is back at {} children",
                          children.size() - static_cast<size_t>(std::count(
                                                children.begin(), children.end(), recycle->pid))));
          freed.push_back(&service);
        } else if (t >= recycle->deadline) {
          end_child_recycle(
              *recycle, instance, "recycle_failed",
              fmt::format("exited, but its master did not replace it within {} ({} of {})",
                          format_duration(service.prefork_timeout), children.size(),
                          recycle->children_before));
          freed.push_back(&service);
        }
        break;
      }
    }
  }
  for (const ServiceConfig* service : freed) start_child_recycles(*service);
}

void Controller::end_child_recycle(ChildRecycle& recycle, Instance* instance,
                                   std::string_view event_name, std::string message) {
  const int pid = recycle.pid;
  const std::string reason = recycle.reason;
  child_pidfds_.erase(&recycle);
  child_recycles_.erase(&recycle);
  if (instance == nullptr) return;
  // A child ended by a signal never ran the sampler's exit hook that removes its control page.
  remove_sampler_files(*instance, pid);
  if (event_name.empty()) return;
  emit(child_event(event_name, *instance, pid, reason, std::move(message)), instance);
}

void Controller::drop_child_recycles(const Instance& instance) {
  for (ChildRecycle& recycle : child_recycles_.all()) {
    if (recycle.service == instance.service->name && recycle.instance == instance.number) {
      child_pidfds_.erase(&recycle);
    }
  }
  child_recycles_.drop_instance(instance.service->name, instance.number);
}

std::optional<MonoTime> Controller::child_recycle_deadline() const {
  std::optional<MonoTime> next = child_recycles_.next_deadline();
  // While one is under way its exit and the master's children are looked at every kChildPoll.
  if (next) next = std::min(*next, now() + kChildPoll);
  return next;
}

}  // namespace memvisor
