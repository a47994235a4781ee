// The supervisor process (`memvisor supervise`): keeps the fleet state from the controller's
// channel and answers clients on the control socket. It can crash and come back without any
// worker noticing; the controller restarts it and hands it a fresh snapshot.
#pragma once

#include <chrono>
#include <list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/observe/write_outage.h"
#include "core/proc/memory_parse_cgroup.h"
#include "core/protocol/control_request.h"
#include "os/event_loop.h"
#include "os/files.h"
#include "os/line_channel.h"
#include "os/signal_fd.h"
#include "os/timer_fd.h"
#include "os/unique_fd.h"
#include "supervisor/dashboard_feed.h"
#include "supervisor/exec_monitors.h"
#include "supervisor/fleet_state.h"
#include "supervisor/heap_sample_capture.h"
#include "supervisor/http_endpoint.h"
#include "supervisor/incident_bundle.h"
#include "supervisor/kernel_watch.h"
#include "supervisor/memory_watch.h"
#include "supervisor/stack_capture.h"
#include "supervisor/worker_server.h"

namespace memvisor {

struct SupervisorOptions {
  int channel_fd = -1;    // our end of the controller's socketpair
  int worker_fd = -1;     // the worker socket, bound by the controller; none when -1
  std::string state_dir;  // control.sock lives here
};

class Supervisor {
 public:
  static Result<std::unique_ptr<Supervisor>> create(SupervisorOptions options);
  // Serves until the controller closes the channel or SIGTERM arrives. Returns the exit code.
  int run();

 private:
  explicit Supervisor(SupervisorOptions options) : options_(std::move(options)) {}
  Status init();
  void on_controller_line(std::string_view line);
  void on_accept();
  void on_client_line(const std::shared_ptr<LineChannel>& client, std::string_view line);
  // The reply, or nullopt when it comes later (a request forwarded to the controller, a dump).
  std::optional<nlohmann::json> handle_request(const ControlRequest& request,
                                               const std::shared_ptr<LineChannel>& client);
  // restart / stop / start: checked here, forwarded to the controller, answered on its reply.
  std::optional<nlohmann::json> forward_lifecycle(const ControlRequest& request,
                                                  const std::shared_ptr<LineChannel>& client);
  // reload: forwarded to the controller, which reads the config again; answered with the changes
  // it applied, or why it applied none.
  std::optional<nlohmann::json> forward_reload(const ControlRequest& request,
                                               const std::shared_ptr<LineChannel>& client);
  void on_controller_reply(const nlohmann::json& reply);

  // Memory rules (supervisor_rules.cc).
  void on_sample_timer();
  void act(const RuleAction& action);
  void check_totals();
  void request_recycle(const std::string& service, int instance, const std::string& reason,
                       bool urgent);
  // A pre-fork child: the controller checks it is still that instance's child, then signals it
  // (urgent: SIGKILL at once), one at a time.
  void request_child_recycle(const std::string& service, int instance, int child,
                             uint64_t start_ticks, const std::string& reason, bool urgent);
  // Either of the two, by whom the action names.
  void request_recycle_of(const RuleAction& action, const std::string& reason, bool urgent);
  void log_event(nlohmann::json event);

  // Kernel-speed limits (supervisor_kernel.cc): a threshold notification re-measures the instance
  // at once, then every kFollowUp while it stays above an armed threshold and no rule acted.
  Status start_kernel_watch();
  void on_kernel_threshold(const MemoryWatch::Key& key);
  void on_kernel_timer();
  void sample_armed(const MemoryWatch::Key& key, int follow_ups);
  void arm_kernel_timer(double now_s);
  // After a sampling round: each armed process's next wake-up where its metric could arrive.
  void retarget_kernel_thresholds();
  // A process just armed is looked at kFirstLooks times, kFirstLook apart, before its first
  // interval: a threshold is armed where its own metric could arrive only once a sample says
  // how far ahead of the cgroup's usage that metric runs (shared libraries), and a fast worker
  // crosses within its first interval.
  void look_soon_at(const MemoryWatch::Key& key);
  struct FirstLooks {
    double due_s = 0;
    int left = 0;
  };
  std::map<MemoryWatch::Key, FirstLooks> first_looks_;
  static constexpr double kFirstLook = 0.1;
  static constexpr int kFirstLooks = 3;
  struct FollowUp {
    double due_s = 0;      // steady seconds
    int count = 0;         // follow-ups since the kernel's notification
    uint64_t metrics = 0;  // the armed metrics' sum at the last sample: still growing?
  };
  std::map<MemoryWatch::Key, FollowUp> follow_ups_;
  std::optional<TimerFd> kernel_timer_;
  static constexpr double kFollowUp = 0.005;
  static constexpr int kMaxFollowUps = 200;  // a second per crossing
  // Memory pressure (supervisor_pressure.cc): `[supervisor] pressure`, a PSI trigger on the event
  // loop, or the file's avg10 read each sampling round where no trigger can be armed.
  struct PressureWatch {
    PressureRule rule;
    std::string path;             // the PSI file read
    std::vector<UniqueFd> armed;  // one trigger per kind (some, full); empty: polled
    double cooldown_until_s = 0;  // steady seconds: no other pick before
    uint64_t fires = 0;           // trigger wake-ups, or polled rounds above the threshold
    uint64_t recycles = 0;        // recycles it asked for
    std::optional<Psi> last;      // the latest reading
  };
  void configure_pressure();  // on the snapshot and after each reload
  void stop_pressure();
  void on_pressure_trigger(uint32_t epoll_events);
  void poll_pressure();  // each sampling round, when polled
  void pressure_seen(const Psi& psi, std::string_view how);
  // An exit (an OOM kill, a crash, a stop) frees memory: no pick for a window after it.
  void pressure_after_exit();
  std::optional<PressureWatch> pressure_;

  // Worker-library connections (supervisor_workers.cc).
  void listen_for_workers();
  void tick_workers();
  void on_worker_requests(const WorkerServer::Key& key, int64_t total);
  // A refused gauge line: one `gauge_rejected` event per process per kGaugeEventWindow seconds,
  // the next one counting those it stood for.
  void on_gauge_rejected(const std::optional<WorkerServer::Key>& key, pid_t pid,
                         const std::string& why);
  struct GaugeRejections {
    double logged_at_s = 0;
    uint64_t suppressed = 0;
  };
  std::map<pid_t, GaugeRejections> gauge_rejections_;
  static constexpr double kGaugeEventWindow = 60;
  void add_worker_fields(nlohmann::json& record) const;
  std::optional<nlohmann::json> ask_memory_info(const ControlRequest& request,
                                                const std::shared_ptr<LineChannel>& client);
  // Exec monitors (supervisor_monitors.cc): created once the loop is, told of every fleet change.
  void start_monitors();
  void update_monitors();
  void on_monitor_value(const ExecMonitors::Key& key, std::string_view name, double value,
                        double now_s);
  nlohmann::json monitors_json(const nlohmann::json& record) const;
  // Incident bundles (supervisor_incidents.cc).
  // After the bundle: a recycle or stop to request (critical, leak with recycle).
  struct ThenRecycle {
    std::string reason;
    bool urgent = false;
    uint64_t child_start_ticks = 0;  // a pre-fork child's (the facts name its pid)
  };
  struct PendingIncident {
    BundleContent content;
    std::unique_ptr<StackCapture> stacks;
    bool stacks_done = false;
    // A leak's heap sample (leak.sample > 0): the bundle and the recycle wait for it.
    std::unique_ptr<HeapSampleCapture> heap;
    std::string heap_report;         // the child's report file, removed once copied into the bundle
    bool heap_sample_event = false;  // a leak's sample was due: say in events.jsonl how it went
    std::optional<ThenRecycle> then;
    std::weak_ptr<LineChannel> client;  // a dump's requester, answered with the path
    nlohmann::json client_id;
    bool answer_client = false;
    bool done = false;
  };
  // Captures /proc now, starts the stack capture, and writes the bundle when it ends (and the
  // heap sample, when one is started on it).
  PendingIncident& begin_incident(const RuleAction& action, const std::string& trigger,
                                  std::optional<RuleDecision> decision, std::string what_next,
                                  std::optional<ThenRecycle> then,
                                  const std::shared_ptr<LineChannel>& client,
                                  nlohmann::json client_id);
  void finish_incident(PendingIncident& incident);
  // Starts the heap sample a leak rule asks for, or says in the bundle why there is none.
  void begin_heap_sample(PendingIncident& incident, const RuleAction& action, Millis duration);
  void on_heap_sample(PendingIncident& incident, HeapSampleResult result);
  // A sample under way for this instance ends now, without a report: another rule acted, or the
  // process is gone. Its bundle is written and the leak's own recycle is dropped.
  void cut_heap_samples_short(const std::string& service, int instance, const std::string& why);
  void cut_heap_samples_of_gone_processes();
  bool process_is_current(const IncidentFacts& facts) const;
  void log_heap_sample_done(const PendingIncident& incident, const Result<std::string>& bundle);
  void finish_incident_if_captured(PendingIncident& incident);
  bool surge_of(const std::string& service) const;
  Millis leak_sample_of(const std::string& service) const;
  // An instance the kernel OOM-killed (its "exited" event): a bundle from its retained series.
  // A bundle for a lifecycle event of the controller's (its service, instance, generation, pid).
  void write_event_incident(const nlohmann::json& event, const std::string& trigger,
                            std::string what_next);
  void write_oom_kill_incident(const nlohmann::json& exited);
  // A worker that missed its watchdog is hung: its thread stacks, taken as its stop begins, are
  // what a developer needs.
  void write_watchdog_incident(const nlohmann::json& timeout);
  std::optional<nlohmann::json> dump_instance(const ControlRequest& request,
                                              const std::shared_ptr<LineChannel>& client);
  std::string incidents_dir() const { return options_.state_dir + "/incidents"; }
  nlohmann::json memory_json(const nlohmann::json& record) const;
  nlohmann::json unit_memory_json(const MemoryWatch::UnitKey& key, std::string_view cgroup) const;
  // prefork = true: the children of the instance a status record describes, each with its memory.
  nlohmann::json children_json(const nlohmann::json& record, double now_s) const;
  // The `status` answer, for the control socket and /status alike.
  nlohmann::json status_json() const;
  // The control socket's `status` reply line for `id`, from a rendering of status_json() shared
  // by every request for up to a second, or until the controller reports a change (a restart
  // shows at once; memory figures may be a second old, as old as a sample anyway): a hundred
  // clients polling a thousand instances cost one rendering a second, not a hundred, and the
  // rules' turn of the loop does not wait behind them.
  std::string status_reply_line(const nlohmann::json& id);
  // The `series` answer (supervisor_series.cc): retained series of the units `request` names.
  nlohmann::json series_reply(const ControlRequest& request) const;

  // HTTP (supervisor_http.cc): started once the controller's snapshot says where, retried while
  // the address cannot be bound; fed a fresh snapshot after each loop round that changed state.
  void start_http_if_wanted();
  void on_reconfigured();
  void publish_metrics();
  std::shared_ptr<const MetricsSnapshot> build_metrics_snapshot() const;
  // /api/series: series_json() over what the rules keep, dumped (supervisor_http.cc).
  std::string dashboard_series_json() const;

  // The checkpoint (supervisor_checkpoint.cc).
  std::string checkpoint_path() const;
  void load_checkpoint();
  void report_restore();
  // Every period, or at once with `now` (a rule decided something; a clean exit).
  void write_checkpoint_if_due(bool now);
  bool checkpoint_enabled_ = true;
  std::chrono::milliseconds checkpoint_period_{30000};
  std::chrono::steady_clock::time_point next_checkpoint_{};
  std::string checkpoint_error_logged_;
  uint64_t checkpoints_written_ = 0;
  bool decided_since_checkpoint_ = false;  // act() ran: the next round writes at once

  struct PendingRequest {
    std::weak_ptr<LineChannel> client;
    nlohmann::json client_id;
    std::string done;  // "restarting web.1"
  };

  SupervisorOptions options_;
  std::optional<EventLoop> loop_;
  std::optional<SignalFd> signals_;
  std::unique_ptr<LineChannel> controller_;
  UniqueFd control_listener_;
  bool control_accept_paused_ = false;  // out of descriptors: see on_accept
  std::string control_path_;
  std::list<std::shared_ptr<LineChannel>> clients_;
  std::map<int64_t, PendingRequest> pending_;
  int64_t next_request_id_ = 1;
  FleetState fleet_;
  MemoryWatch memory_;
  std::optional<TimerFd> sample_timer_;
  std::list<std::unique_ptr<PendingIncident>> incidents_;
  std::optional<AppendLog> events_log_;
  WriteOutage events_outage_{"events.jsonl", "lines"};  // a full disk: one message, then a count
  WriteOutage crash_report_outage_{"crash reports", "crash reports"};
  std::unique_ptr<HttpEndpoint> http_;
  DashboardFeed dashboard_{options_.state_dir + "/incidents"};  // what the dashboard serves
  std::chrono::steady_clock::time_point next_series_build_{};   // /api/series, at most 1/s
  std::chrono::steady_clock::time_point next_http_try_{};
  std::string http_error_logged_;
  std::string http_address_;    // where http_ serves, as configured
  bool state_changed_ = false;  // since the last publish
  bool publish_now_ = false;    // a lifecycle change: publish without waiting for the second
  std::chrono::steady_clock::time_point published_at_{};
  static constexpr std::chrono::seconds kPublishEvery{1};
  std::string status_text_;  // status_json() rendered; empty: render again
  std::chrono::steady_clock::time_point status_text_at_{};
  std::unique_ptr<WorkerServer> workers_;
  // Exec monitors (supervisor_monitors.cc); after fleet_ and loop_, so destroyed before them.
  std::unique_ptr<ExecMonitors> monitors_;
  std::unique_ptr<KernelWatch> kernel_;  // after loop_ too: its fds leave the loop first
  bool said_ready_ = false;              // the controller knows a sampling round was done
  bool done_ = false;
  int exit_code_ = 0;
};

}  // namespace memvisor
