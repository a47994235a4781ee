// Exec monitors (`monitor = { name, command, interval, timeout }`): for every running instance
// of a service the supervisor runs each monitor's command every `interval`, as a child watched
// by its event loop (ChildCapture), so a slow or hung command never stalls sampling, HTTP or the
// control socket. The number on the first line of its stdout is handed on as a gauge; failures
// become rate-limited `monitor_failed` events and counters for /metrics.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>

#include "core/config/config.h"
#include "os/event_loop.h"
#include "os/timer_fd.h"
#include "supervisor/child_capture.h"
#include "supervisor/fleet_state.h"

namespace memvisor {

// The number a monitor printed: the first line of its output, trimmed, as a plain number
// ("42", "-1.5", "3e6") or a size with a unit ("12MiB", "1.5GB": bytes). nullopt otherwise,
// NaN and infinities included.
std::optional<double> parse_monitor_value(std::string_view output);

class ExecMonitors {
 public:
  using Key = std::tuple<std::string, int, int>;  // service, instance, generation
  using OnValue =
      std::function<void(const Key& key, std::string_view name, double value, double now_s)>;
  using OnEvent = std::function<void(nlohmann::json event)>;

  struct Options {
    // A failing monitor logs its first failure, then at most one summary per window; the window
    // doubles while it keeps failing, up to max_window, and starts over after a success.
    double first_window_s = 10;
    double max_window_s = 600;
    size_t max_output = 4096;  // bytes of stdout and of stderr kept per run
    std::string cgroup_root;   // where MEMVISOR_CGROUP paths start ("/sys/fs/cgroup")
  };

  // Counters since this supervisor started, per (service, monitor), for /metrics.
  struct Counters {
    uint64_t runs = 0;     // runs that ended (values and failures)
    uint64_t skipped = 0;  // due while the previous run of the same instance was still going
    std::map<std::string, uint64_t> failures;  // by reason: exec, exit, timeout, not_a_number
  };
  // The last outcome of one instance's monitor, for status.
  struct Last {
    std::optional<double> value;
    double value_at_s = 0;  // steady seconds
    std::string error;      // the last run's failure in words; empty after a success
  };

  // `fleet` must outlive the monitors; `on_value` and `on_event` run from the loop.
  ExecMonitors(EventLoop& loop, const FleetState& fleet, OnValue on_value, OnEvent on_event,
               Options options);
  ExecMonitors(EventLoop& loop, const FleetState& fleet, OnValue on_value, OnEvent on_event)
      : ExecMonitors(loop, fleet, std::move(on_value), std::move(on_event), Options{}) {}
  ~ExecMonitors();
  ExecMonitors(const ExecMonitors&) = delete;
  ExecMonitors& operator=(const ExecMonitors&) = delete;

  // Follows the fleet and the config now: starts the runs that are due, stops the runs of
  // processes no longer running and of monitors removed or changed, and arms the timer for the
  // next run. Call after every fleet change; the timer calls it too.
  void update(double now_s);

  const std::map<std::pair<std::string, std::string>, Counters>& counters() const {
    return counters_;
  }
  // service, instance, generation → monitor name → its last outcome.
  std::map<std::string, Last> last(const Key& key) const;
  // Runs going on now (for tests and status).
  size_t running() const;

 private:
  struct RunKey {
    std::string service;
    int instance = 0;
    int generation = 0;
    std::string monitor;
    auto operator<=>(const RunKey&) const = default;
  };
  struct Schedule {
    MonitorConfig config;
    int pid = 0;
    double next_due_s = 0;
    std::unique_ptr<ChildCapture> run;  // set while a run goes on
    bool finished = false;              // the run ended; dropped outside its own callback
    Last last;
  };
  // Rate limiting of monitor_failed events, per (service, monitor).
  struct FailureLog {
    double last_event_s = -1e300;
    double window_s = 0;
    uint64_t suppressed = 0;
  };

  void start_run(const RunKey& key, Schedule& schedule, const ServiceConfig& service,
                 const FleetProcess& process, double now_s);
  void on_done(const RunKey& key, ChildOutcome outcome);
  void fail(const RunKey& key, Schedule& schedule, std::string reason, std::string message,
            const std::string& errors, double now_s);
  void arm_timer();

  EventLoop& loop_;
  const FleetState& fleet_;
  OnValue on_value_;
  OnEvent on_event_;
  Options options_;
  std::optional<TimerFd> timer_;
  std::map<RunKey, Schedule> schedules_;
  std::map<std::pair<std::string, std::string>, Counters> counters_;
  std::map<std::pair<std::string, std::string>, FailureLog> failure_logs_;
  bool updating_ = false;
};

}  // namespace memvisor
