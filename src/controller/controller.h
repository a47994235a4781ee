// The controller: the root process of `memvisor run`. It spawns, reaps, restarts and stops the
// instances and the supervisor, in one thread and one epoll loop; nothing else lives here, so a
// fault in the richer supervisor can never take the workers down.
#pragma once

#include <sys/types.h>

#include <functional>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "controller/instance.h"
#include "controller/service_sockets.h"
#include "core/config/config.h"
#include "core/lifecycle/backoff.h"
#include "core/lifecycle/child_recycle_queue.h"
#include "core/observe/event.h"
#include "core/observe/write_outage.h"
#include "os/event_loop.h"
#include "os/files.h"
#include "os/instance_cgroups.h"
#include "os/kernel_log_reader.h"
#include "os/line_channel.h"
#include "os/pidfd.h"
#include "os/signal_fd.h"
#include "os/spawn.h"
#include "os/timer_fd.h"

namespace memvisor {

struct ControllerOptions {
  Config config;
  std::string state_dir;        // resolved, absolute
  std::string self_executable;  // the binary to run `supervise` from (usually /proc/self/exe)
  bool supervisor = true;  // false: run without the supervisor process (tests, `--no-supervisor`)
  std::string cgroup_root = kCgroupRoot;  // where cgroup = true makes the instances' cgroups
  std::string proc_root = kProcRoot;
  // Reads the config again for a reload, through the same path as `check` and the start; empty
  // when memvisor runs a service given on the command line (nothing to read again).
  std::function<Result<Config>()> load_config;
};

class Controller {
 public:
  // Sets up the state directory, sockets, signals and the event loop; spawns nothing yet.
  static Result<std::unique_ptr<Controller>> create(ControllerOptions options);
  ~Controller();

  // Starts every instance and the supervisor, then loops until a shutdown signal has stopped
  // everything. Returns the process exit code.
  int run();

 private:
  explicit Controller(ControllerOptions options);
  Status init();
  Status find_heap_sampler();
  // STATE/notify, one socket per process (notify_receiver.cc): made at start, and again when a
  // bind finds it gone (a repaired disk mounted again without it).
  std::string notify_dir() const { return options_.state_dir + "/notify"; }
  Status make_notify_dir() const;
  // STATE/sampler, where heap_sampler workers make their control pages: made at start, and again
  // before a start if it went.
  std::string sampler_dir() const { return options_.state_dir + "/sampler"; }
  Status make_sampler_dir() const;
  void remove_sampler_files(const Instance& instance, pid_t pid);

  // The loop.
  void step();
  void arm_timer();
  std::optional<MonoTime> next_deadline() const;
  void on_timer();
  void on_signals();
  void reap_children();
  void reap_strays();
  MonoTime now() const;

  // Live reload (reload.cc): SIGHUP, `memvisor reload`, `systemctl reload`. Reads the config
  // again and applies what changed; a config that cannot be applied changes nothing.
  struct ReloadOutcome {
    bool applied = false;
    bool config_error = false;       // not applied because of the file (exit code 2 for the CLI)
    std::vector<std::string> lines;  // applied: one per change
    std::string error;               // not applied: why
  };
  ReloadOutcome reload(std::string_view how);
  Status check_notify_paths(const Config& config) const;
  void remove_instance(Instance& instance, std::string_view reason);
  void forget_unused_configs();

  // Instance lifecycle (instance_lifecycle.cc).
  void start_instance(Instance& instance, std::string_view reason);
  void begin_stop(Instance& instance, std::string_view reason, AfterStop after);
  void escalate_stop(Instance& instance);
  void signal_instance(Instance& instance, int signal);
  void on_instance_exit(Instance& instance, const ExitStatus& status);
  void after_failed_run(Instance& instance, std::string_view reason);
  void schedule_restart(Instance& instance, std::string_view reason, bool failed);
  void on_instance_deadline(Instance& instance, MonoTime now);
  void mark_stable(Instance& instance);
  std::optional<MonoTime> instance_deadline(const Instance& instance) const;
  SpawnSpec spawn_spec(Instance& instance, UniqueFd& out_write, UniqueFd& err_write);

  // cgroup = true: a memory cgroup per process (instance_cgroup.cc).
  void open_instance_cgroups();
  Status prepare_cgroup(Instance& instance, SpawnSpec& spec, UniqueFd& procs);
  void release_cgroup(Instance& instance);
  std::string cgroup_path(const Instance& instance) const;

  // The kernel's OOM killer (oom_kills.cc): memvisor's own oom_score_adj, and telling an OOM kill
  // from another SIGKILL at an instance's exit.
  void apply_own_oom_score_adj();
  void sample_machine_oom_kills(bool force);
  // When the loop must wake for that reading: only while an instance runs without a cgroup of
  // its own (one with a cgroup is judged by its cgroup's count).
  std::optional<MonoTime> next_machine_oom_sample() const;
  // Why the exit was an OOM kill ("its cgroup ... counted an OOM kill"), or nullopt: it was not,
  // or nothing tells. Call before release_cgroup().
  std::optional<std::string> oom_kill_evidence(const Instance& instance, const ExitStatus& status);

  // Recycling without losing capacity (recycle.cc).
  void recycle(Instance& instance, std::string_view reason, bool urgent);
  void start_recycle(Instance& instance, std::string_view reason);
  void finish_recycle(Instance& replacement, bool succeeded);
  void start_queued_recycles(const ServiceConfig& service);
  // A reload's failed replacement: the pause before the roll is tried again, after `failures`
  // earlier failures, and the retry once it is due.
  static Millis outdated_retry_pause(const ServiceConfig& service, int failures);
  void retry_outdated(Instance& instance, MonoTime t);
  // A `limit` recycle of a young process whose predecessor was one too waits (see Instance::
  // young_limit_recycles): true while it is deferred.
  bool defer_young_limit_recycle(Instance& instance);
  int recycling_count(const ServiceConfig& service) const;

  // Pre-fork children (child_recycle.cc): checked, signalled through a pidfd, one at a time.
  // Returns why a request is refused.
  std::optional<std::string> recycle_child(const nlohmann::json& message);
  void start_child_recycles(const ServiceConfig& service);
  void step_child_recycles(MonoTime now);
  void end_child_recycle(ChildRecycle& recycle, Instance* instance, std::string_view event_name,
                         std::string message);
  void drop_child_recycles(const Instance& instance);
  std::optional<MonoTime> child_recycle_deadline() const;

  // Readiness (notify_receiver.cc).
  Status open_notify_socket(Instance& instance);
  void close_notify_socket(Instance& instance);
  void on_notify(Instance& instance);
  void set_ready(Instance& instance);

  // The held listening sockets, watched for a worker's shutdown(2) (listen_watch.cc).
  void watch_sockets();
  void unwatch_sockets();
  void on_socket_hangup(int fd);

  // Output relay (output_relay.cc).
  void watch_output(Instance& instance, OutputPipe& pipe);
  void on_output(Instance& instance, OutputPipe& pipe);
  void close_output(Instance& instance, OutputPipe& pipe);

  // The supervisor process and its channel (controller_supervisor.cc).
  void open_worker_socket();
  std::string worker_socket_path() const;
  void start_supervisor();
  void on_supervisor_exit(const ExitStatus& status);
  void on_supervisor_message(const nlohmann::json& message);
  nlohmann::json snapshot() const;
  nlohmann::json instance_json(const Instance& instance) const;

  // Events: events.jsonl, stderr, the supervisor.
  void emit(Event event, const Instance* instance);
  // An event of a pre-fork child: its instance's, with the child's pid and "child".
  Event child_event(std::string_view name, const Instance& instance, int child,
                    std::string_view reason, std::string message) const;
  Event make_event(std::string_view name, const Instance* instance, std::string_view reason,
                   std::string message) const;

  void begin_shutdown(std::string_view reason);
  bool everything_stopped() const;
  void notify_manager_status();
  // WATCHDOG=1 to our own service manager when it asked for it (WATCHDOG_USEC), every half of
  // its timeout, from this loop: a controller stuck anywhere stops pinging and systemd acts.
  void start_manager_watchdog();
  void ping_manager_watchdog(MonoTime now);

  Instance* find_instance(pid_t pid);
  Instance* find_instance(std::string_view service, int number);

  ControllerOptions options_;
  std::vector<std::unique_ptr<Instance>> instances_;
  std::optional<EventLoop> loop_;
  std::optional<SignalFd> signals_;
  std::optional<TimerFd> timer_;
  std::optional<AppendLog> events_log_;
  WriteOutage events_outage_{"events.jsonl", "lines"};  // a full disk: one message, then a count
  UniqueFd lock_fd_;
  std::string sampler_library_;  // for heap_sampler services; empty: not found or not needed
  std::string agents_dir_;       // the Python and Ruby agents; empty: not found or not needed
  std::map<std::string, UserIdentity> users_;  // services that run as another user
  std::optional<InstanceCgroups> cgroups_;     // when a service has cgroup = true and it works
  // /proc/vmstat oom_kill, read about once a second: the reading before the latest is the
  // baseline an exit compares with (at least a second old, so a kill just before the latest
  // reading still counts).
  std::optional<uint64_t> machine_oom_kills_before_;
  std::optional<uint64_t> machine_oom_kills_latest_;
  MonoTime machine_oom_kills_read_{};
  // The kernel log, where readable: names each OOM kill's victim by pid. Victims seen in the
  // last few seconds are kept (with when they were read) for the exits to come.
  std::optional<KernelLogReader> kernel_log_;
  std::vector<std::pair<OomKillRecord, MonoTime>> recent_oom_kills_;
  void read_kernel_log();
  bool told_oom_score_adj_ = false;    // a failure to set it is logged once
  bool told_notify_fallback_ = false;  // abstract notify sockets: said once per outage
  ServiceSockets sockets_;             // every service's `listen`, for its whole life
  std::vector<int> watched_sockets_;   // their fds in the loop (watch_sockets)
  // By service, the addresses a worker shut down for good (listen_lost), while they are held.
  std::map<std::string, std::vector<std::string>> lost_listens_;
  // Configs a reload replaced, kept while an instance of a removed service still points into one
  // (the vectors moved here keep their elements where they were).
  std::list<Config> old_configs_;

  // The supervisor process.
  pid_t supervisor_pid_ = 0;
  UniqueFd supervisor_pidfd_;
  UniqueFd worker_listener_;  // served by each supervisor in turn; queues workers in between
  std::unique_ptr<LineChannel> supervisor_link_;
  MonoTime supervisor_started_{};
  bool supervisor_ready_ = false;   // it has finished a sampling round since it started
  int supervisor_failures_ = 0;     // starts in a row that died before they were ready
  uint64_t supervisor_starts_ = 0;  // for memvisor_supervisor_restarts_total (starts - 1)
  std::optional<MonoTime> supervisor_restart_at_;
  // The hang check (controller_supervisor.cc): a ping every kSupervisorPingInterval; a supervisor
  // silent for longer than the hang timeout is killed and restarted.
  void check_supervisor_alive(MonoTime now);
  std::optional<MonoTime> supervisor_ping_at_;
  MonoTime supervisor_heard_{};    // the last line from it (or its start)
  MonoTime supervisor_checked_{};  // the last hang check: a long gap means we were frozen too
  bool supervisor_hung_ = false;   // killed by the hang check: its exit says so
  // OOM kills whose `exited` event the supervisor may never have read (it writes their incident
  // bundle): sent while it was down or hung, or not yet followed by a pong. Lines are read in
  // order, so the pong to a ping sent after the event confirms it; the unconfirmed go into the
  // next supervisor's snapshot (controller_supervisor.cc).
  struct UnconfirmedOomKill {
    nlohmann::json exited;
    uint64_t confirmed_by_pong;  // the number of the pong that confirms it, this link's count
  };
  std::vector<UnconfirmedOomKill> oom_kills_unconfirmed_;
  uint64_t supervisor_pings_ = 0, supervisor_pongs_ = 0;  // on this link
  void remember_oom_kill(const Event& exited);
  BackoffPolicy supervisor_backoff_{std::chrono::milliseconds(100), 2.0,
                                    std::chrono::milliseconds(10000)};

  // Recycles waiting for a free slot (max_recycling), oldest first: (service, instance, reason).
  struct QueuedRecycle {
    std::string service;
    int number;
    std::string reason;
  };
  std::vector<QueuedRecycle> recycle_queue_;
  ChildRecycleQueue child_recycles_;
  std::map<const ChildRecycle*, UniqueFd> child_pidfds_;  // held from the check to the end

  bool shutting_down_ = false;
  std::optional<MonoTime> supervisor_kill_at_;
  bool told_manager_ready_ = false;
  std::optional<std::chrono::microseconds> manager_watchdog_;  // WATCHDOG_USEC, when it is ours
  std::optional<MonoTime> manager_watchdog_at_;                // the next WATCHDOG=1
  int exit_code_ = 0;
};

}  // namespace memvisor
