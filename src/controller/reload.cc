// Live reload: the config is read again through the same path as `check` and the start, compared
// with the running one (diff_configs), and applied without touching what did not change. Rules
// and settings apply at once (the supervisor keeps every process's leak history); a service whose
// spawn changed is rolled through the usual recycle (surge, max_recycling); instance counts grow
// and shrink; services come and go. Everything that can fail (reading, validating, users,
// sockets, paths) is done before anything changes, so a refused reload leaves memvisor exactly as
// it was.
#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "controller/controller.h"
#include "core/config/config_diff.h"
#include "core/config/config_json.h"
#include "core/units.h"
#include "os/log_sink.h"
#include "os/notify_socket.h"

namespace memvisor {

Controller::ReloadOutcome Controller::reload(std::string_view how) {
  auto refuse = [&](std::string why) {
    emit(make_event("reload_failed", nullptr, how,
                    fmt::format("reload refused, still running the previous config: {}", why)),
         nullptr);
    (void)notify_service_manager("READY=1\nSTATUS=reload refused: " + why);
    return ReloadOutcome{false, true, {}, std::move(why)};
  };
  auto unavailable = [&](std::string why) {
    emit(make_event("reload_failed", nullptr, how, why), nullptr);
    return ReloadOutcome{false, false, {}, std::move(why)};
  };
  if (shutting_down_) return unavailable("memvisor is shutting down");
  if (!options_.load_config) {
    return unavailable(
        "memvisor runs a service given on the command line (-- CMD): there is no config file to "
        "read again");
  }
  (void)notify_service_manager("RELOADING=1");
  auto loaded = options_.load_config();
  if (!loaded) return refuse(loaded.error().describe());
  Config& config = *loaded;
  auto diff = diff_configs(options_.config, config);
  if (!diff) return refuse(diff.error().describe());
  const ConfigChanges& changes = *diff;

  // Everything that can fail, before anything changes.
  if (Status fits = check_notify_paths(config); !fits) return refuse(fits.error().describe());
  std::map<std::string, UserIdentity> users;
  for (const ServiceConfig& service : config.services) {
    if (service.user.empty()) continue;
    auto user = lookup_user(service.user);
    if (!user) {
      return refuse(fmt::format("service.{}.user: {}", service.name, user.error().describe()));
    }
    users.emplace(service.name, std::move(*user));
  }
  std::map<std::string, std::vector<ServiceSockets::Socket>> prepared;
  std::vector<std::string> socket_notes;
  for (const ServiceConfig& service : config.services) {
    auto sockets = sockets_.prepare(service, socket_notes);
    if (!sockets) return refuse(sockets.error().describe());  // the prepared ones close here
    prepared.emplace(service.name, std::move(*sockets));
  }

  // Apply. The old config stays alive while an instance of a removed service points into it.
  old_configs_.push_back(std::move(options_.config));
  options_.config = std::move(config);
  users_ = std::move(users);
  const Config& now_config = options_.config;
  for (auto& instance : instances_) {
    if (const ServiceConfig* service = now_config.service(instance->service->name)) {
      instance->service = service;
      instance->circuit.set_limits(service->circuit_failures, service->circuit_cooldown);
    }
  }
  // Sockets close below (a changed or removed `listen`): out of the loop first, back after.
  unwatch_sockets();
  for (const ServiceConfig& service : now_config.services) {
    sockets_.commit(service, std::move(prepared[service.name]));
  }
  for (std::string& note : socket_notes) {
    emit(make_event("listening", nullptr, how, std::move(note)), nullptr);
  }
  if (sampler_library_.empty() && agents_dir_.empty()) {
    if (Status found = find_heap_sampler(); !found) {
      log_message(LogLevel::error, "heap_sampler: " + found.error().describe());
    }
  }
  if (!cgroups_) open_instance_cgroups();
  apply_own_oom_score_adj();

  std::vector<std::string> lines;
  for (const ServiceChange& change : changes.services) {
    Event event = make_event("reload", nullptr, to_string(change.kind), what_changed(change));
    event.service = change.service;
    if (!change.fields.empty()) event.extra["fields"] = change.fields;
    emit(std::move(event), nullptr);
    lines.push_back(describe(change));

    // The instances of the service as it is now (a copy: starting one adds to the list).
    std::vector<Instance*> of_service;
    for (auto& instance : instances_) {
      if (instance->service->name == change.service && instance->replaces == nullptr &&
          instance->state != InstanceState::retired && !instance->removing) {
        of_service.push_back(instance.get());
      }
    }
    switch (change.kind) {
      case ServiceChange::Kind::removed:
        for (Instance* instance : of_service) remove_instance(*instance, "reload");
        sockets_.remove(change.service);
        break;
      case ServiceChange::Kind::rolled:
        for (Instance* instance : of_service) {
          if (instance->recycling) {
            // Its replacement was spawned from the old config: roll again once it has taken
            // over (the queue is served as recycles finish).
            recycle_queue_.push_back({instance->service->name, instance->number, "reload"});
          } else {
            recycle(*instance, "reload", false);
          }
        }
        break;
      case ServiceChange::Kind::added:
      case ServiceChange::Kind::instances: {
        const ServiceConfig* service = now_config.service(change.service);
        for (Instance* instance : of_service) {
          if (instance->number > service->instances) remove_instance(*instance, "reload");
        }
        for (int n = 1; n <= service->instances; ++n) {
          const bool exists = std::any_of(of_service.begin(), of_service.end(),
                                          [&](const Instance* i) { return i->number == n; });
          if (exists) continue;
          instances_.push_back(std::make_unique<Instance>(*service, n));
          start_instance(*instances_.back(), "reload");
        }
        break;
      }
      case ServiceChange::Kind::rules:
        break;  // read where they are used: the controller's on the next use, the supervisor's now
    }
  }
  watch_sockets();
  for (const std::string& key : changes.supervisor) {
    lines.push_back(fmt::format("supervisor.{}: changed, applied at once", key));
    Event event = make_event("reload", nullptr, "supervisor", lines.back());
    event.extra["fields"] = std::vector<std::string>{key};
    emit(std::move(event), nullptr);
  }
  // The supervisor re-binds its rules to the new config, keeping every process's history; one
  // that is restarting gets it in its snapshot.
  if (supervisor_link_) {
    supervisor_link_->send_line(
        nlohmann::json{{"type", "config"}, {"config", config_to_json(options_.config)}}.dump());
  }
  // A reload that changes nothing still says which processes run an earlier config: their
  // replacement failed, and they are retried (recycle.cc) whatever this reload says.
  const bool changed = !lines.empty();
  for (const auto& instance : instances_) {
    if (!instance->outdated || instance->state == InstanceState::retired) continue;
    if (!changed && lines.empty()) lines.push_back("no change in " + options_.config.source);
    lines.push_back(fmt::format(
        "{}: still runs the config from before a reload (pid {}): its replacement {} before it "
        "was ready; tried again{}",
        instance->label(), instance->pid, instance->outdated_why,
        instance->outdated_retry_at ? " in " + format_duration(std::chrono::duration_cast<Millis>(
                                                   *instance->outdated_retry_at - now()))
                                    : " soon"));
  }
  emit(make_event("reloaded", nullptr, how,
                  changes.empty() ? fmt::format("{} read again: no change", options_.config.source)
                                  : fmt::format("{} read again: {} change(s) applied",
                                                options_.config.source, lines.size())),
       nullptr);
  (void)notify_service_manager("READY=1");
  notify_manager_status();
  forget_unused_configs();
  return ReloadOutcome{true, false, std::move(lines), {}};
}

// An instance a reload took away: it stops gracefully and is retired once it has exited (see
// on_instance_exit); one without a process goes at once. A surge replacement under way goes too.
void Controller::remove_instance(Instance& instance, std::string_view reason) {
  instance.removing = true;
  if (Instance* replacement = instance.replacement) {
    replacement->removing = true;
    if (replacement->pid != 0) begin_stop(*replacement, reason, AfterStop::stay_stopped);
  }
  if (instance.pid != 0) {
    begin_stop(instance, reason, AfterStop::stay_stopped);
    return;
  }
  instance.state = InstanceState::retired;
  instance.deadline.reset();
  emit(make_event("retired", &instance, reason, "removed by a reload"), &instance);
}

void Controller::forget_unused_configs() {
  std::erase_if(old_configs_, [&](const Config& config) {
    return std::none_of(instances_.begin(), instances_.end(), [&](const auto& instance) {
      return std::any_of(
          config.services.begin(), config.services.end(),
          [&](const ServiceConfig& service) { return instance->service == &service; });
    });
  });
}

}  // namespace memvisor
