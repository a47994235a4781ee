// The lifecycle of one instance: start, readiness deadlines, the stop sequence, exit, restart with
// backoff, and the crash-loop circuit.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <fmt/format.h>

#include "controller/controller.h"
#include "core/lifecycle/spawn_failure.h"
#include "core/units.h"
#include "heap_report/sampler_library.h"
#include "os/files.h"
#include "os/proc.h"
#include "runtimes/runtime_environment.h"

namespace memvisor {
namespace {

bool is_ours(std::string_view entry) {
  // Variables memvisor sets per instance, or that belong to memvisor's own service manager
  // (LISTEN_* too, which spawn_process replaces with the instance's own sockets, or removes).
  for (std::string_view prefix :
       {"NOTIFY_SOCKET=", "WATCHDOG_USEC=", "WATCHDOG_PID=", "MEMVISOR_SERVICE=",
        "MEMVISOR_INSTANCE=", "MEMVISOR_GENERATION=", "MEMVISOR_SOCKET="}) {
    if (entry.substr(0, prefix.size()) == prefix) return true;
  }
  return false;
}

void set_env(std::vector<std::string>& env, std::string_view key, std::string_view value) {
  const std::string prefix = std::string(key) + "=";
  for (auto& entry : env) {
    if (entry.compare(0, prefix.size(), prefix) == 0) {
      entry = prefix + std::string(value);
      return;
    }
  }
  env.push_back(prefix + std::string(value));
}

}  // namespace

SpawnSpec Controller::spawn_spec(Instance& instance, UniqueFd& out_write, UniqueFd& err_write) {
  const ServiceConfig& service = *instance.service;
  SpawnSpec spec;
  spec.argv = service.command;
  for (std::string& entry : current_environment()) {
    if (!is_ours(entry)) spec.env.push_back(std::move(entry));
  }
  if (auto user = users_.find(service.name); user != users_.end()) {
    spec.user = user->second;
    set_env(spec.env, "HOME", user->second.home);
    set_env(spec.env, "USER", user->second.name);
    set_env(spec.env, "LOGNAME", user->second.name);
  }
  for (const auto& [key, value] : service.env) set_env(spec.env, key, value);
  set_env(spec.env, "MEMVISOR_SERVICE", service.name);
  set_env(spec.env, "MEMVISOR_INSTANCE", std::to_string(instance.number));
  set_env(spec.env, "MEMVISOR_GENERATION", std::to_string(instance.generation + 1));
  if (instance.notify) set_env(spec.env, "NOTIFY_SOCKET", instance.notify->path());
  // The worker library's socket, served by the supervisor (which may restart: workers reconnect).
  if (worker_listener_.valid()) set_env(spec.env, "MEMVISOR_SOCKET", worker_socket_path());
  if (service.watchdog.count() > 0) {
    set_env(spec.env, "WATCHDOG_USEC", std::to_string(service.watchdog.count() * 1000));
  }
  // heap_sampler: the worker loads libmemvisor_sampler.so and keeps its control page in
  // STATE_DIR/sampler; Node opens its inspector, Python and Ruby load an agent, on request only.
  if (service.heap_sampler) {
    const std::string dir = sampler_dir();
    // Without it this process could never be sampled; a start does not wait on it (a read-only
    // disk: `memvisor sample` then says the control page is missing).
    if (::access(dir.c_str(), F_OK) != 0) (void)make_sampler_dir();
    if (!sampler_library_.empty())
      add_sampler_environment(spec.env, sampler_library_, dir);
    else
      set_env(spec.env, "MEMVISOR_SAMPLER_DIR", dir);
    add_runtime_environment(spec.env, service.heap_runtime, agents_dir_);
  }
  sockets_.hand_to(service.name, spec);
  spec.cwd = service.cwd;
  spec.stdout_fd = out_write.get();
  spec.stderr_fd = err_write.get();
  spec.child_sigmask = signals_->previous_mask();
  spec.oom_score_adj = service.oom_score_adj;  // not memvisor's own, which it would inherit
  return spec;
}

namespace {

// Pipes for the relay, and with output = "file" the per-instance log it writes to. The worker
// never writes the file itself: memvisor does, line by line, so the file can rotate between
// whole lines (log_max_size) without the worker knowing.
Status open_output(const ServiceConfig& service, const Instance& instance,
                   const std::string& state_dir, UniqueFd& out_read, UniqueFd& out_write,
                   UniqueFd& err_read, UniqueFd& err_write, std::shared_ptr<AppendLog>& file_log) {
  if (service.output == OutputMode::file) {
    const std::string dir = service.log_dir.empty() ? state_dir + "/logs" : service.log_dir;
    if (Status made = make_directories(dir, 0750); !made) return made;
    auto log = AppendLog::open(dir + "/" + instance.label() + ".log", 0640);
    if (!log) return log.error();
    file_log = std::make_shared<AppendLog>(std::move(*log));
    // One pipe for both streams: the file gets the lines in the order the worker wrote them,
    // as when it wrote the file itself.
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return Error::from_errno("pipe");
    out_read.reset(fds[0]);
    out_write.reset(fds[1]);
    ::fcntl(fds[0], F_SETFL, ::fcntl(fds[0], F_GETFL) | O_NONBLOCK);
    err_write.reset(::fcntl(fds[1], F_DUPFD_CLOEXEC, 0));
    if (!err_write.valid()) return Error::from_errno("dup");
    return {};
  }
  for (auto [read_end, write_end] :
       {std::pair{&out_read, &out_write}, std::pair{&err_read, &err_write}}) {
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) return Error::from_errno("pipe");
    read_end->reset(fds[0]);
    write_end->reset(fds[1]);
    // Our end never blocks the loop; the worker's end stays blocking, as programs expect.
    ::fcntl(fds[0], F_SETFL, ::fcntl(fds[0], F_GETFL) | O_NONBLOCK);
  }
  return {};
}

}  // namespace

void Controller::start_instance(Instance& instance, std::string_view reason) {
  const MonoTime t = now();
  instance.stopped_on_purpose = false;
  // Whatever starts now runs the current config.
  instance.outdated = false;
  instance.outdated_failures = 0;
  instance.outdated_retry_at.reset();
  instance.outdated_why.clear();
  if (!instance.circuit.allow_start(t)) {
    instance.state = InstanceState::open;
    return;
  }
  if (instance.circuit.state() == CircuitState::half_open) {
    emit(make_event("circuit_half_open", &instance, reason,
                    reason == "operator" ? "crash loop: one try, asked for before the cool-down"
                                         : "crash loop cool-down over: one try"),
         &instance);
  }

  // A start that fails before the process runs: one event saying which step, then the same
  // backoff as a crash.
  auto fail_start = [&](std::string_view step, const Error& error) {
    emit(make_event("spawn_failed", &instance, step, spawn_failure_message(error)), &instance);
    after_failed_run(instance, "spawn_failed");
  };
  UniqueFd out_read, out_write, err_read, err_write;
  std::shared_ptr<AppendLog> file_log;
  if (Status opened = open_output(*instance.service, instance, options_.state_dir, out_read,
                                  out_write, err_read, err_write, file_log);
      !opened) {
    fail_start("output", opened.error());
    return;
  }

  if (Status opened = open_notify_socket(instance); !opened) {
    fail_start("notify_socket", opened.error());
    return;
  }
  SpawnSpec spec = spawn_spec(instance, out_write, err_write);
  UniqueFd cgroup_procs;
  if (Status placed = prepare_cgroup(instance, spec, cgroup_procs); !placed) {
    close_notify_socket(instance);
    instance.last_exit_reason = "spawn_failed";
    fail_start("cgroup", placed.error());
    return;
  }
  auto spawned = spawn_process(spec);
  cgroup_procs.reset();
  if (!spawned) {
    release_cgroup(instance);
    close_notify_socket(instance);
    instance.last_exit_reason = "spawn_failed";
    fail_start("spawn_failed", spawned.error());
    return;
  }

  if (instance.generation > 0) ++instance.restarts;
  ++instance.generation;
  instance.pid = spawned->pid;
  if (auto stat = read_proc_stat(instance.pid)) instance.start_ticks = stat->start_time_ticks;
  instance.pidfd = std::move(spawned->pidfd);
  instance.main_pid = 0;
  instance.started_mono = t;
  instance.started_wall = std::chrono::system_clock::now();
  instance.ever_ready = false;
  instance.stable = false;
  instance.stop_phase = 0;
  instance.stop_reason.clear();
  instance.status_text.clear();
  instance.deadline.reset();
  instance.state = InstanceState::starting;
  (void)loop_->add(instance.pidfd.get(), EPOLLIN, [this](uint32_t) { reap_children(); });
  close_output(instance, instance.out);  // a previous generation's pipes, if still open
  close_output(instance, instance.err);
  if (out_read.valid()) {
    instance.out = OutputPipe{std::move(out_read), LineSplitter{}, false, file_log};
    instance.err = OutputPipe{std::move(err_read), LineSplitter{}, true, file_log};
    watch_output(instance, instance.out);
    if (instance.err.fd.valid()) watch_output(instance, instance.err);  // output = "file": one pipe
  }

  Event started = make_event("started", &instance, reason, "started");
  started.extra["generation"] = instance.generation;
  if (std::string cgroup = cgroup_path(instance); !cgroup.empty()) started.extra["cgroup"] = cgroup;
  emit(std::move(started), &instance);
  if (instance.service->ready == ReadyMode::immediate) set_ready(instance);
}

void Controller::signal_instance(Instance& instance, int signal) {
  if (instance.pid == 0) return;
  // The leader is not reaped yet, so neither its pid nor the process group it leads can have
  // been reused: signalling the group reaches its children too, as Ctrl-C in a terminal does.
  // The pidfd covers a leader that left its group.
  auto stat = read_proc_stat(instance.pid);
  const bool leader_in_group = stat && stat->pgrp == instance.pid;
  if (::killpg(instance.pid, signal) != 0 || !leader_in_group) {
    (void)pidfd_signal(instance.pidfd.get(), signal);
  }
}

void Controller::begin_stop(Instance& instance, std::string_view reason, AfterStop after) {
  if (instance.pid == 0) {
    instance.deadline.reset();
    if (after == AfterStop::restart && !shutting_down_) {
      start_instance(instance, reason);
    } else if (instance.state != InstanceState::stopped &&
               instance.state != InstanceState::retired) {
      // Waiting to restart (backoff, crash loop): it stays down, and says so.
      instance.state = InstanceState::stopped;
      instance.stopped_on_purpose = true;
      emit(make_event("stopped", &instance, reason, "stopped"), &instance);
    }
    return;
  }
  if (instance.state == InstanceState::stopping) {
    // Already on its way down; a later stay-stopped (a shutdown) overrides a restart.
    if (after == AfterStop::stay_stopped) instance.after_stop = after;
    return;
  }
  const ServiceConfig& service = *instance.service;
  instance.state = InstanceState::stopping;
  instance.stop_phase = 1;
  instance.stop_reason = std::string(reason);
  instance.after_stop = after;
  instance.deadline = now() + service.stop_timeout;
  Event event = make_event("stopping", &instance, reason,
                           fmt::format("stopping with {}", signal_name(service.stop_signal)));
  event.extra["signal"] = signal_name(service.stop_signal);
  emit(std::move(event), &instance);
  signal_instance(instance, service.stop_signal);
}

void Controller::escalate_stop(Instance& instance) {
  const ServiceConfig& service = *instance.service;
  if (instance.stop_phase == 1) {
    instance.stop_phase = 2;
    instance.deadline = now() + service.kill_timeout;
    Event event = make_event("stop_escalated", &instance, instance.stop_reason,
                             fmt::format("still running after {}: sending SIGTERM",
                                         format_duration(service.stop_timeout)));
    event.extra["signal"] = "SIGTERM";
    emit(std::move(event), &instance);
    signal_instance(instance, SIGTERM);
  } else if (instance.stop_phase == 2) {
    instance.stop_phase = 3;
    instance.deadline.reset();  // SIGKILL cannot be ignored; the exit will come
    Event event = make_event("stop_escalated", &instance, instance.stop_reason,
                             fmt::format("still running after SIGTERM and {}: sending SIGKILL",
                                         format_duration(service.kill_timeout)));
    event.extra["signal"] = "SIGKILL";
    emit(std::move(event), &instance);
    signal_instance(instance, SIGKILL);
  }
}

}  // namespace memvisor
