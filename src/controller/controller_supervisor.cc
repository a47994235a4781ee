// The supervisor process seen from the controller: spawn it with one end of a socketpair, send it
// a snapshot and then every event, serve its requests after checking them, and restart it with
// backoff when it dies before it is ready (at once when it dies after), without touching a
// single worker; and kill it when it hangs (no answer to pings for the hang timeout).
#include <sys/socket.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cstdlib>

#include "controller/controller.h"
#include "core/config/config_json.h"
#include "os/log_sink.h"
#include "os/unix_stream.h"

namespace memvisor {
namespace {

constexpr auto kSupervisorPingInterval = std::chrono::seconds(1);
// A supervisor answers a ping between two loop rounds; a round of a large fleet, a checkpoint or
// an incident's /proc capture take well under a second. Silent this long, it is stuck (SIGSTOP,
// a deadlock, a livelock in a parser) and no memory rule runs: it is killed and restarted.
// MEMVISOR_SUPERVISOR_HANG_TIMEOUT_MS changes it (tests).
std::chrono::milliseconds supervisor_hang_timeout() {
  if (const char* value = std::getenv("MEMVISOR_SUPERVISOR_HANG_TIMEOUT_MS"); value != nullptr) {
    char* end = nullptr;
    const long ms = std::strtol(value, &end, 10);
    if (end != value && *end == '\0' && ms >= 1000) return std::chrono::milliseconds(ms);
  }
  return std::chrono::seconds(10);
}

}  // namespace

void Controller::check_supervisor_alive(MonoTime t) {
  supervisor_ping_at_ = t + kSupervisorPingInterval;
  const MonoTime previous_check = supervisor_checked_;
  supervisor_checked_ = t;
  if (supervisor_pid_ == 0 || !supervisor_link_ || shutting_down_ || supervisor_hung_) return;
  // This loop did not run for a while either (the whole tree frozen: docker pause, a VM paused,
  // a machine-wide stall): the supervisor could not answer meanwhile. Its silence counts from now,
  // or a healthy supervisor is killed the moment both wake up.
  if (t - previous_check > 3 * kSupervisorPingInterval) supervisor_heard_ = t;
  const auto silent = std::chrono::duration_cast<std::chrono::milliseconds>(t - supervisor_heard_);
  if (silent < supervisor_hang_timeout()) {
    supervisor_link_->send_line(R"({"type":"ping"})");
    ++supervisor_pings_;
    return;
  }
  supervisor_hung_ = true;
  Event event = make_event(
      "supervisor_hung", nullptr, "hang",
      fmt::format("supervisor silent for {} ms: killing and restarting it", silent.count()));
  event.pid = supervisor_pid_;
  event.extra["silent_ms"] = silent.count();
  emit(std::move(event), nullptr);
  (void)pidfd_signal(supervisor_pidfd_.get(), SIGKILL);
}

std::string Controller::worker_socket_path() const {
  return options_.state_dir + "/worker.sock";
}

void Controller::open_worker_socket() {
  // Bound here rather than in the supervisor: it exists before the first worker starts, and a
  // worker that connects while the supervisor restarts waits in the backlog instead of failing.
  // Workers running as another user must be able to connect; who they are is then checked with
  // their peer credentials against the fleet, so the wider mode lets no stranger speak for one.
  bool other_users = false;
  for (const ServiceConfig& service : options_.config.services) {
    other_users = other_users || !service.user.empty();
  }
  auto listener = listen_unix(worker_socket_path(), other_users ? 0666 : 0600, SOMAXCONN);
  if (!listener) {
    log_message(LogLevel::warning,
                "no worker socket, request counts are off: " + listener.error().describe());
    return;
  }
  worker_listener_ = std::move(*listener);
}

void Controller::start_supervisor() {
  auto pair = socket_pair();
  if (!pair) {
    log_message(LogLevel::error, "cannot start the supervisor: " + pair.error().describe());
    return;
  }
  auto& [ours, theirs] = *pair;
  SpawnSpec spec;
  spec.argv = {options_.self_executable,
               "supervise",
               "--channel-fd",
               std::to_string(theirs.get()),
               "--state-dir",
               options_.state_dir,
               "--log-format",
               log_format() == LogFormat::json ? "json" : "text"};
  spec.env = current_environment();
  spec.keep_fds = {theirs.get()};
  if (worker_listener_.valid()) {
    spec.argv.insert(spec.argv.end(), {"--worker-fd", std::to_string(worker_listener_.get())});
    spec.keep_fds.push_back(worker_listener_.get());
  }
  spec.child_sigmask = signals_->previous_mask();
  // The supervisor is memvisor too: the OOM killer must not pick it either.
  spec.oom_score_adj = options_.config.supervisor.oom_score_adj;
  auto spawned = spawn_process(spec);
  if (!spawned) {
    log_message(LogLevel::error, "cannot start the supervisor: " + spawned.error().describe());
    supervisor_restart_at_ = now() + backoff_delay(supervisor_backoff_, ++supervisor_failures_);
    return;
  }
  supervisor_pid_ = spawned->pid;
  supervisor_pidfd_ = std::move(spawned->pidfd);
  supervisor_started_ = now();
  supervisor_heard_ = supervisor_started_;
  supervisor_checked_ = supervisor_started_;
  supervisor_ping_at_ = supervisor_started_ + kSupervisorPingInterval;
  supervisor_hung_ = false;
  supervisor_ready_ = false;
  ++supervisor_starts_;
  (void)loop_->add(supervisor_pidfd_.get(), EPOLLIN, [this](uint32_t) { reap_children(); });

  supervisor_link_ = std::make_unique<LineChannel>(
      *loop_, std::move(ours), LineChannel::Limits{},
      [this](std::string_view line) {
        supervisor_heard_ = now();  // any line: it is alive (a pong, a request, "ready")
        auto message = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
        if (message.is_discarded() || !message.is_object()) {
          log_message(LogLevel::warning, "ignored a malformed message from the supervisor");
          return;
        }
        on_supervisor_message(message);
      },
      [this](std::string_view why) {
        // A supervisor that stops reading would make us buffer forever: replace it.
        if (why.find("queue full") != std::string_view::npos && supervisor_pid_ != 0) {
          log_message(LogLevel::error,
                      fmt::format("supervisor channel failed ({}); restarting it", why));
          (void)pidfd_signal(supervisor_pidfd_.get(), SIGKILL);
        }
      });
  supervisor_pings_ = supervisor_pongs_ = 0;
  supervisor_link_->send_line(snapshot().dump());
  // The snapshot carried the unconfirmed OOM kills: read before the first ping's pong.
  for (UnconfirmedOomKill& kill : oom_kills_unconfirmed_) kill.confirmed_by_pong = 1;
  Event event = make_event("supervisor_started", nullptr, "", "supervisor started");
  event.pid = supervisor_pid_;
  emit(std::move(event), nullptr);
}

void Controller::on_supervisor_exit(const ExitStatus& status) {
  loop_->remove(supervisor_pidfd_.get());
  supervisor_pidfd_.reset();
  const pid_t pid = supervisor_pid_;
  supervisor_pid_ = 0;
  supervisor_link_.reset();
  supervisor_kill_at_.reset();
  supervisor_ping_at_.reset();
  Event event = make_event("supervisor_exited", nullptr,
                           shutting_down_     ? "shutdown"
                           : supervisor_hung_ ? "hang"
                                              : "crash",
                           "supervisor " + status.describe());
  event.pid = pid;
  if (shutting_down_) {
    emit(std::move(event), nullptr);
    return;
  }
  // Workers are untouched; only the supervisor comes back. One that had judged memory (it said
  // "ready" after its first sampling round) ran fine, so it comes back at once: while it is down
  // no rule runs. Only one that dies before that (a broken binary, a state dir it cannot use)
  // backs off, as a crash loop must.
  supervisor_failures_ = supervisor_ready_ ? 0 : supervisor_failures_ + 1;
  const auto delay = supervisor_failures_ == 0
                         ? std::chrono::milliseconds(0)
                         : backoff_delay(supervisor_backoff_, supervisor_failures_);
  supervisor_restart_at_ = now() + delay;
  event.extra["restart_delay_ms"] = delay.count();
  emit(std::move(event), nullptr);
}

void Controller::on_supervisor_message(const nlohmann::json& message) {
  if (message.value("type", "") == "pong") {  // the hang check's answer
    ++supervisor_pongs_;
    std::erase_if(oom_kills_unconfirmed_, [&](const UnconfirmedOomKill& kill) {
      return kill.confirmed_by_pong <= supervisor_pongs_;
    });
    return;
  }
  if (message.value("type", "") == "ready") {
    supervisor_ready_ = true;
    return;
  }
  if (message.value("type", "") != "request") return;
  nlohmann::json reply = {{"type", "reply"}, {"id", message.value("id", nlohmann::json())}};
  const std::string action = message.value("action", "");
  const std::string service = message.value("service", "");
  const int number = message.value("instance", 0);
  const std::string reason = message.value("reason", "supervisor");

  auto fail = [&](std::string error) {
    reply["ok"] = false;
    reply["error"] = std::move(error);
    if (supervisor_link_) supervisor_link_->send_line(reply.dump());
  };
  // The supervisor can only act on instances the controller knows, and never during shutdown.
  if (shutting_down_) return fail("memvisor is shutting down");
  if (action == "reload") {
    ReloadOutcome outcome = reload("memvisor reload");
    reply["ok"] = outcome.applied;
    if (outcome.applied) {
      reply["changes"] = std::move(outcome.lines);
    } else {
      reply["error"] = std::move(outcome.error);
      reply["code"] = outcome.config_error ? "config_error" : "refused";
    }
    if (supervisor_link_) supervisor_link_->send_line(reply.dump());
    return;
  }
  if (action == "recycle_child") {
    if (auto refused = recycle_child(message)) return fail(std::move(*refused));
    reply["ok"] = true;
    if (supervisor_link_) supervisor_link_->send_line(reply.dump());
    return;
  }
  std::vector<Instance*> targets;
  for (auto& instance : instances_) {
    // A stop also reaches the replacement of a recycle under way; the rest act on primaries.
    const bool eligible = instance->state != InstanceState::retired &&
                          (instance->replaces == nullptr || action == "stop");
    if (eligible && instance->service->name == service &&
        (number == 0 || instance->number == number)) {
      targets.push_back(instance.get());
    }
  }
  if (targets.empty()) {
    return fail(number == 0 ? fmt::format("no service '{}'", service)
                            : fmt::format("no instance {}.{}", service, number));
  }
  // An instance without a process, waiting out its restart delay or an open crash-loop circuit:
  // an operator's restart or start tries it now (the runbook: fix the cause, then `memvisor
  // restart web.2`), with one half-open try behind an open circuit.
  const auto waiting = [](const Instance& i) {
    return i.pid == 0 && (i.state == InstanceState::backoff || i.state == InstanceState::open);
  };
  const auto start_now = [&](Instance& target) {
    target.circuit.try_now();
    target.deadline.reset();
    start_instance(target, reason);
  };
  if (action == "recycle") {
    const bool urgent = message.value("urgent", false);
    for (Instance* target : targets) {
      if (reason == "operator" && waiting(*target)) {
        start_now(*target);
      } else {
        recycle(*target, reason, urgent);
      }
    }
  } else if (action == "stop") {
    for (Instance* target : targets) begin_stop(*target, reason, AfterStop::stay_stopped);
  } else if (action == "start") {
    for (Instance* target : targets) {
      if (target->state == InstanceState::stopped || waiting(*target)) start_now(*target);
    }
  } else {
    return fail(fmt::format("unknown action '{}'", action));
  }
  reply["ok"] = true;
  if (supervisor_link_) supervisor_link_->send_line(reply.dump());
}

nlohmann::json Controller::instance_json(const Instance& instance) const {
  nlohmann::json json = {
      {"service", instance.service->name},
      {"instance", instance.number},
      {"generation", instance.generation},
      {"pid", instance.pid},
      {"state", to_string(instance.state)},
      {"restarts", instance.restarts},
      {"circuit", to_string(instance.circuit.state())},
      {"consecutive_failures", instance.circuit.consecutive_failures()},
      {"status", instance.status_text},
  };
  if (instance.state == InstanceState::stopped && instance.stopped_on_purpose)
    json["stopped_on_purpose"] = true;
  if (instance.main_pid != 0) json["main_pid"] = instance.main_pid;
  if (instance.pid != 0) json["start_ticks"] = instance.start_ticks;
  // Relative to the memory hierarchy, as /proc/PID/cgroup shows it.
  if (std::string path = cgroup_path(instance); !path.empty()) json["cgroup"] = std::move(path);
  json["role"] = instance.replaces != nullptr ? "replacement" : "primary";
  if (instance.recycling || instance.replacement != nullptr) json["recycling"] = true;
  if (const int children = child_recycles_.under_way(instance.service->name, instance.number);
      children > 0 && instance.replaces == nullptr) {
    json["children_recycling"] = children;
  }
  if (instance.pid != 0) json["started_at"] = to_unix_seconds(instance.started_wall);
  if (instance.outdated) {
    // Wall clock, so the record stays right however long it waits to be read.
    nlohmann::json outdated = {{"why", "its replacement with the reloaded config " +
                                           instance.outdated_why + " before it was ready"},
                               {"failures", instance.outdated_failures}};
    if (instance.outdated_retry_at) {
      outdated["retry_at"] =
          to_unix_seconds(std::chrono::system_clock::now()) +
          std::chrono::duration<double>(*instance.outdated_retry_at - now()).count();
    }
    json["outdated"] = std::move(outdated);
  }
  if (instance.last_exit) {
    json["last_exit"] = instance.last_exit->brief();
    json["last_exit_reason"] = instance.last_exit_reason;
  }
  return json;
}

nlohmann::json Controller::snapshot() const {
  nlohmann::json instances = nlohmann::json::array();
  for (const auto& instance : instances_) instances.push_back(instance_json(*instance));
  nlohmann::json oom_kills = nlohmann::json::array();
  for (const UnconfirmedOomKill& kill : oom_kills_unconfirmed_) oom_kills.push_back(kill.exited);
  return {{"type", "snapshot"},
          {"controller_pid", ::getpid()},
          {"supervisor_restarts", supervisor_starts_ > 0 ? supervisor_starts_ - 1 : 0},
          {"config", config_to_json(options_.config)},
          {"instances", std::move(instances)},
          {"unbundled_oom_kills", std::move(oom_kills)},
          {"lost_listens", lost_listens_}};
}

void Controller::remember_oom_kill(const Event& exited) {
  // Bounded: a worker OOM-killed in a loop while no supervisor reads would grow it forever.
  constexpr size_t kKept = 32;
  if (oom_kills_unconfirmed_.size() >= kKept)
    oom_kills_unconfirmed_.erase(oom_kills_unconfirmed_.begin());
  oom_kills_unconfirmed_.push_back(
      {to_json(exited), supervisor_link_ ? supervisor_pings_ + 1 : UINT64_MAX});
}

}  // namespace memvisor
