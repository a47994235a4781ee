#include "controller/controller.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <limits>

#include "heap_report/sampler_library.h"
#include "os/log_sink.h"
#include "os/notify_socket.h"
#include "os/pidfd.h"
#include "os/proc.h"
#include "runtimes/runtime_environment.h"

namespace memvisor {

namespace {
// The state dir and its notify/: workers running as another user must reach their notify
// socket; every file inside carries its own restrictive mode.
constexpr mode_t kReachableDirMode = 0711;
}  // namespace

Controller::Controller(ControllerOptions options) : options_(std::move(options)) {}
Controller::~Controller() = default;

Result<std::unique_ptr<Controller>> Controller::create(ControllerOptions options) {
  std::unique_ptr<Controller> controller(new Controller(std::move(options)));
  if (Status status = controller->init(); !status) return status.error();
  return controller;
}

Status Controller::init() {
  // Users first: an unknown one is a config error, reported before anything is created.
  for (const ServiceConfig& service : options_.config.services) {
    if (service.user.empty()) continue;
    auto user = lookup_user(service.user);
    if (!user)
      return Error{fmt::format("service.{}.user: {}", service.name, user.error().describe())};
    users_.emplace(service.name, std::move(*user));
  }

  const std::string& dir = options_.state_dir;
  if (Status made = make_directories(dir, kReachableDirMode); !made) return made;
  if (Status made = make_notify_dir(); !made) return made;

  lock_fd_.reset(::open((dir + "/memvisor.lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
  if (!lock_fd_.valid()) return Error::from_errno("open " + dir + "/memvisor.lock");
  if (::flock(lock_fd_.get(), LOCK_EX | LOCK_NB) != 0) {
    std::string holder = "?";
    if (auto text = read_file(dir + "/memvisor.lock"); text) holder = *text;
    holder.erase(std::remove(holder.begin(), holder.end(), '\n'), holder.end());
    return Error{
        fmt::format("another memvisor (pid {}) is running with state dir {}; give this "
                    "one its own --state-dir",
                    holder, dir)};
  }
  const std::string pid_text = std::to_string(::getpid()) + "\n";
  if (::ftruncate(lock_fd_.get(), 0) != 0 ||
      ::pwrite(lock_fd_.get(), pid_text.data(), pid_text.size(), 0) < 0) {
    return Error::from_errno("write " + dir + "/memvisor.lock");
  }

  auto log = AppendLog::open(dir + "/events.jsonl", 0600);
  if (!log) return log.error();
  events_log_.emplace(std::move(*log));

  // Before any instance, and before anything else could take the addresses.
  std::vector<std::string> socket_notes;
  auto sockets = ServiceSockets::open(options_.config, take_passed_sockets(), socket_notes);
  if (!sockets) return sockets.error();
  sockets_ = std::move(*sockets);
  for (std::string& note : socket_notes) {
    emit(make_event("listening", nullptr, "", std::move(note)), nullptr);
  }

  // Orphaned grandchildren are re-parented to us, not to init, so none outlives memvisor.
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) return Error::from_errno("set child subreaper");
  std::signal(SIGPIPE, SIG_IGN);

  auto signals = SignalFd::create({SIGCHLD, SIGTERM, SIGINT, SIGQUIT, SIGHUP});
  if (!signals) return signals.error();
  signals_.emplace(std::move(*signals));
  auto timer = TimerFd::create();
  if (!timer) return timer.error();
  timer_.emplace(std::move(*timer));
  auto loop = EventLoop::create();
  if (!loop) return loop.error();
  loop_.emplace(std::move(*loop));
  if (Status s = loop_->add(signals_->fd(), EPOLLIN, [this](uint32_t) { on_signals(); }); !s) {
    return s;
  }
  if (Status s = loop_->add(timer_->fd(), EPOLLIN, [this](uint32_t) { on_timer(); }); !s) return s;
  watch_sockets();

  if (Status found = find_heap_sampler(); !found) return found;

  if (Status fits = check_notify_paths(options_.config); !fits) return fits;
  for (const ServiceConfig& service : options_.config.services) {
    for (int n = 1; n <= service.instances; ++n) {
      instances_.push_back(std::make_unique<Instance>(service, n));
    }
  }
  return {};
}

// Checked before any spawn (at start and before a reload applies): the longest notify socket
// path must fit in sun_path.
Status Controller::check_notify_paths(const Config& config) const {
  for (const ServiceConfig& service : config.services) {
    const std::string longest = fmt::format("{}/{}.{}.{}", notify_dir(), service.name,
                                            service.instances, std::numeric_limits<int>::max());
    if (longest.size() > 107) {
      return Error{
          fmt::format("state dir {} is too long for the notify socket paths ({} bytes, "
                      "at most 107); choose a shorter --state-dir",
                      options_.state_dir, longest.size())};
    }
  }
  return {};
}

// Found once, at start: looking at every spawn would follow /proc/self/exe to wherever the
// binary is now, and a rebuild or an upgrade in place could leave one replacement without the
// library while its siblings have it.
Status Controller::find_heap_sampler() {
  const auto& services = options_.config.services;
  if (std::none_of(services.begin(), services.end(),
                   [](const ServiceConfig& s) { return s.heap_sampler; }))
    return {};
  agents_dir_ = find_agents_dir(options_.self_executable);
  if (agents_dir_.empty()) {
    log_message(LogLevel::warning,
                "heap_sampler: the Python and Ruby agents were not found "
                "(share/memvisor/agents); those workers start without them");
  }
  sampler_library_ = find_sampler_library(options_.self_executable);
  if (sampler_library_.empty()) {
    log_message(LogLevel::warning,
                fmt::format("heap_sampler: {} not found next to memvisor or in the libdir; "
                            "services start without it",
                            kSamplerLibraryName));
  }
  return make_sampler_dir();
}

Status Controller::make_notify_dir() const {
  return make_directories(notify_dir(), kReachableDirMode);
}

Status Controller::make_sampler_dir() const {
  // Workers of any user create their control page here (sticky, like /tmp).
  const std::string dir = sampler_dir();
  if (Status made = make_directories(dir, 01733); !made) return made;
  if (::chmod(dir.c_str(), 01733) != 0) return Error::from_errno("chmod " + dir);
  return {};
}

// A heap_sampler worker's control page, and the raw file of a sample cut short (its sampling
// child killed before it let go of the name), outlive the process: they go when it is reaped.
void Controller::remove_sampler_files(const Instance& instance, pid_t pid) {
  if (!instance.service->heap_sampler) return;
  const std::string dir = sampler_dir();
  const std::string prefix = std::to_string(pid) + ".";
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    const std::string name = entry.path().filename().string();
    if (name.compare(0, prefix.size(), prefix) != 0) continue;
    // PID.ctl (native), PID.agent (the Python and Ruby agents' socket; PID.agent.tmp before it
    // listens), PID.wake and PID.wake.req (the Ruby agent's marker and memvisor's request),
    // PID.*.raw.
    if (name == prefix + "ctl" || name == prefix + "agent" || name == prefix + "agent.tmp" ||
        name == prefix + "wake" || name == prefix + "wake.req" || name.ends_with(".raw"))
      std::filesystem::remove(entry, error);
  }
}

MonoTime Controller::now() const {
  return std::chrono::steady_clock::now();
}

int Controller::run() {
  size_t total = instances_.size();
  emit(make_event("memvisor_started", nullptr, "",
                  fmt::format("starting {} service(s), {} instance(s); state dir {}",
                              options_.config.services.size(), total, options_.state_dir)),
       nullptr);
  apply_own_oom_score_adj();
  // Where readable, the kernel log names an OOM kill's victim by pid (instances without a cgroup
  // of their own); from here on, what it held before is not about our workers.
  if (auto opened = KernelLogReader::open()) kernel_log_.emplace(std::move(*opened));
  sample_machine_oom_kills(true);
  open_instance_cgroups();
  if (options_.supervisor) {
    open_worker_socket();
    start_supervisor();
  }
  start_manager_watchdog();
  for (auto& instance : instances_) start_instance(*instance, "initial");
  notify_manager_status();

  while (!(shutting_down_ && everything_stopped())) step();

  reap_strays();
  cgroups_.reset();  // every process is reaped: the instances' cgroups and memvisor.PID go
  if (worker_listener_.valid()) ::unlink(worker_socket_path().c_str());
  emit(make_event("memvisor_stopped", nullptr, "", "every instance stopped"), nullptr);
  return exit_code_;
}

void Controller::step() {
  // Retired instances leave here, outside any callback that might still hold them.
  std::erase_if(instances_, [](const auto& i) { return i->state == InstanceState::retired; });
  if (!old_configs_.empty()) forget_unused_configs();
  arm_timer();
  sample_machine_oom_kills(false);
  if (auto ran = loop_->run_once(std::nullopt); !ran) {
    log_message(LogLevel::critical, "event loop failed: " + ran.error().describe());
    exit_code_ = 1;
    begin_shutdown("internal_error");
  }
  if (shutting_down_) {
    bool instances_down = std::all_of(instances_.begin(), instances_.end(), [](const auto& i) {
      return i->state == InstanceState::stopped || i->state == InstanceState::retired;
    });
    // The supervisor goes last, so `memvisor status` keeps answering while workers stop.
    if (instances_down && supervisor_pid_ != 0 && !supervisor_kill_at_) {
      (void)pidfd_signal(supervisor_pidfd_.get(), SIGTERM);
      supervisor_kill_at_ = now() + std::chrono::seconds(5);
    }
  }
}

std::optional<MonoTime> Controller::next_deadline() const {
  std::optional<MonoTime> earliest;
  auto consider = [&](std::optional<MonoTime> t) {
    if (t && (!earliest || *t < *earliest)) earliest = t;
  };
  for (const auto& instance : instances_) consider(instance_deadline(*instance));
  consider(supervisor_restart_at_);
  consider(supervisor_kill_at_);
  consider(supervisor_ping_at_);
  consider(child_recycle_deadline());
  consider(manager_watchdog_at_);
  consider(next_machine_oom_sample());
  return earliest;
}

void Controller::arm_timer() {
  if (Status armed = timer_->arm(next_deadline()); !armed) {
    log_message(LogLevel::error, armed.error().describe());
  }
}

void Controller::on_timer() {
  timer_->acknowledge();
  const MonoTime t = now();
  // A deadline may add an instance (a replacement), so walk a copy of the list.
  std::vector<Instance*> current;
  for (auto& instance : instances_) current.push_back(instance.get());
  for (Instance* instance : current) on_instance_deadline(*instance, t);
  step_child_recycles(t);
  if (manager_watchdog_at_ && t >= *manager_watchdog_at_) ping_manager_watchdog(t);
  if (supervisor_restart_at_ && t >= *supervisor_restart_at_) {
    supervisor_restart_at_.reset();
    if (!shutting_down_) start_supervisor();
  }
  if (supervisor_kill_at_ && t >= *supervisor_kill_at_ && supervisor_pid_ != 0) {
    (void)pidfd_signal(supervisor_pidfd_.get(), SIGKILL);
    supervisor_kill_at_ = t + std::chrono::seconds(5);
  }
  if (supervisor_ping_at_ && t >= *supervisor_ping_at_) check_supervisor_alive(t);
}

void Controller::on_signals() {
  for (int signal : signals_->read_pending()) {
    switch (signal) {
      case SIGCHLD:
        reap_children();
        break;
      case SIGTERM:
      case SIGINT:
      case SIGQUIT:
        if (shutting_down_) {
          log_message(LogLevel::notice, "already stopping; waiting for instances to exit");
        } else {
          begin_shutdown(fmt::format("signal {}", sigabbrev_np(signal)));
        }
        break;
      case SIGHUP:
        (void)reload("SIGHUP");  // the outcome is in its events
        break;
      default:
        break;
    }
  }
}

namespace {

ExitStatus decode(const siginfo_t& info) {
  ExitStatus status;
  status.signaled = info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED;
  status.core_dumped = info.si_code == CLD_DUMPED;
  if (status.signaled) {
    status.signal = info.si_status;
  } else {
    status.code = info.si_status;
  }
  return status;
}

}  // namespace

void Controller::reap_children() {
  for (;;) {
    // Peek first (WNOWAIT): while the exited leader is an unreaped zombie its pid, and so its
    // process group id, cannot be reused, which makes the group kill below safe.
    siginfo_t info{};
    if (::waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == 0) return;
    const pid_t pid = info.si_pid;
    Instance* instance = find_instance(pid);
    if (instance != nullptr) {
      // Whatever the worker left behind in its process group dies with it: no orphans.
      (void)::killpg(pid, SIGKILL);
    }
    siginfo_t reaped{};
    ::waitid(P_PID, static_cast<id_t>(pid), &reaped, WEXITED | WNOHANG);
    if (instance != nullptr) {
      on_instance_exit(*instance, decode(info));
    } else if (pid == supervisor_pid_) {
      on_supervisor_exit(decode(info));
    }
    // Anything else is an adopted orphan (we are a subreaper, maybe PID 1): reaped, nothing more.
    // It may have been the last process of a cgroup waiting to be removed.
    if (cgroups_ && cgroups_->busy() > 0) cgroups_->retry_removals();
  }
}

void Controller::begin_shutdown(std::string_view reason) {
  shutting_down_ = true;
  (void)notify_service_manager("STOPPING=1");
  emit(make_event("memvisor_stopping", nullptr, reason, "stopping every instance"), nullptr);
  for (auto& instance : instances_) {
    if (instance->pid != 0) {
      begin_stop(*instance, "shutdown", AfterStop::stay_stopped);
    } else if (instance->state != InstanceState::stopped &&
               instance->state != InstanceState::retired) {
      instance->state = InstanceState::stopped;
      instance->deadline.reset();
    }
  }
}

bool Controller::everything_stopped() const {
  return supervisor_pid_ == 0 &&
         std::all_of(instances_.begin(), instances_.end(), [](const auto& i) {
           return i->state == InstanceState::stopped || i->state == InstanceState::retired;
         });
}

void Controller::reap_strays() {
  // Processes that escaped their process group and were re-parented to us: TERM, then KILL.
  auto strays = child_pids(::getpid());
  if (strays.empty()) return;
  for (pid_t pid : strays) ::kill(pid, SIGTERM);  // our children: their pids cannot be reused
  for (int i = 0; i < 20 && !child_pids(::getpid()).empty(); ++i) {
    while (::waitpid(-1, nullptr, WNOHANG) > 0) {
    }
    ::usleep(50 * 1000);
  }
  for (pid_t pid : child_pids(::getpid())) ::kill(pid, SIGKILL);
  while (::waitpid(-1, nullptr, 0) > 0) {
  }
}

Instance* Controller::find_instance(pid_t pid) {
  if (pid <= 0) return nullptr;
  for (auto& instance : instances_) {
    if (instance->pid == pid) return instance.get();
  }
  return nullptr;
}

Instance* Controller::find_instance(std::string_view service, int number) {
  for (auto& instance : instances_) {
    if (instance->service->name == service && instance->number == number) return instance.get();
  }
  return nullptr;
}

}  // namespace memvisor
