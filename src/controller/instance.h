// One instance of a service (web.1, web.2, …): its process and where it is in its lifecycle.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "core/config/config.h"
#include "core/lifecycle/circuit_breaker.h"
#include "core/lifecycle/exit_status.h"
#include "core/observe/write_outage.h"
#include "core/protocol/line_splitter.h"
#include "core/time_format.h"
#include "os/files.h"
#include "os/notify_socket.h"
#include "os/unique_fd.h"

namespace memvisor {

using MonoTime = std::chrono::steady_clock::time_point;

enum class InstanceState {
  starting,  // spawned, waiting for READY=1 (notify mode)
  running,   // ready
  stopping,  // the stop sequence is under way
  backoff,   // waiting out the restart delay
  open,      // crash loop: the circuit is open, waiting for its cool-down
  stopped,   // not running and not coming back on its own
  retired,   // replaced by a surge recycle (or a failed replacement): about to be removed
};
std::string_view to_string(InstanceState state);

// What happens once a stopping instance has exited.
enum class AfterStop { stay_stopped, restart };

// A worker's stdout or stderr pipe, split into lines for the prefixed relay.
struct OutputPipe {
  UniqueFd fd;
  LineSplitter lines;
  bool is_stderr = false;
  // output = "file": SERVICE.N.log, shared by the instance's stdout and stderr; else null.
  std::shared_ptr<AppendLog> file;
  // The file's write failures, told once per outage with a count (created at the first line).
  std::optional<WriteOutage> file_outage{};
};

struct Instance {
  Instance(const ServiceConfig& config, int instance_number)
      : service(&config),
        number(instance_number),
        circuit(config.circuit_failures, config.circuit_cooldown) {}

  const ServiceConfig* service;
  int number;  // 1-based: web.1, web.2, …
  std::string label() const { return service->name + "." + std::to_string(number); }

  InstanceState state = InstanceState::stopped;
  int generation = 0;  // incremented at every spawn
  pid_t pid = 0;       // 0 when no process
  pid_t last_pid = 0;  // the pid of the last process, after it exited
  UniqueFd pidfd;
  pid_t main_pid = 0;  // MAINPID= from the worker, when it names another process
  MonoTime started_mono{};
  WallTime started_wall{};
  MonoTime ready_mono{};
  bool ever_ready = false;
  bool stable = false;  // ran min_uptime (and was ready): a success for the circuit
  MonoTime last_watchdog{};
  std::string status_text;  // STATUS= from the worker

  int restarts = 0;
  std::optional<ExitStatus> last_exit;
  std::string last_exit_reason;
  // Stopped by a stop (`memvisor stop`, a reload, the shutdown) or by a clean exit its restart
  // policy leaves stopped: down as asked, so not missing capacity for /health. Not after a crash.
  bool stopped_on_purpose = false;
  CircuitBreaker circuit;

  // Stop sequence: 1 = stop_signal sent, 2 = SIGTERM sent, 3 = SIGKILL sent.
  int stop_phase = 0;
  std::string stop_reason;
  AfterStop after_stop = AfterStop::stay_stopped;

  // The timer of the stopping and backoff states (next escalation, next start). The other
  // deadlines (readiness, watchdog, min_uptime, circuit retry) derive from the fields above.
  std::optional<MonoTime> deadline;

  uint64_t start_ticks = 0;  // /proc/PID/stat start time: tells a reused pid from this process
  std::string cgroup;        // cgroup = true: its process's own cgroup, "web.1.3"; removed at reap
  uint64_t cgroup_oom_kills = 0;  // its cgroup's oom_kill count at spawn (a reused one has some)

  // A surge recycle runs two processes for one instance number: the old one keeps serving until
  // its replacement (a second Instance object, generation + 1) is ready.
  Instance* replacement = nullptr;  // on the old one: its replacement, while recycling
  Instance* replaces = nullptr;     // on the replacement: the instance it will replace
  std::string recycle_reason;
  bool recycling = false;  // a recycle of this instance is under way (counts for max_recycling)
  // A reload took this instance away (its service removed, or fewer instances): once it has
  // stopped it is retired, never restarted.
  bool removing = false;
  // `limit` recycles in a row of processes younger than min_uptime (a limit below the worker's
  // start-up size, a gauge that starts high), carried to each replacement; reset once a process
  // runs min_uptime. From the second, the recycle waits a restart delay (backoff) counted from
  // the process's start, `limit_recycle_at`, instead of following at once.
  int young_limit_recycles = 0;
  std::optional<MonoTime> limit_recycle_at;
  // A reload's replacement of this process failed: it runs on with the config from before the
  // reload (outdated), and the reload's recycle is tried again at `outdated_retry_at`, after a
  // pause that doubles with each failure. Cleared once a process of the current config starts.
  bool outdated = false;
  int outdated_failures = 0;
  std::optional<MonoTime> outdated_retry_at;
  std::string outdated_why;

  std::unique_ptr<NotifySocket> notify;  // per process: notify/SERVICE.N.GENERATION
  OutputPipe out;
  OutputPipe err;
};

}  // namespace memvisor
