// The validated configuration model: plain structs that the controller and supervisor consume.
// Built by parse_config (TOML) or by the embedded-default flags; both go through validate_config.
#pragma once

#include <chrono>
#include <csignal>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config/socket_address.h"
#include "core/proc/runtime_kind.h"

namespace memvisor {

using Millis = std::chrono::milliseconds;

enum class RestartPolicy { always, on_failure, never };
enum class ReadyMode { immediate, notify };
enum class OutputMode { prefix, file };

// Which memory figure a rule reads (see README: PSS shares copy-on-write pages fairly between
// forked workers; USS is what a recycle would give back; cgroup is the instance's own cgroup), or
// a gauge the process reports (`gauge:NAME`, README "Custom monitors").
enum class MetricKind { pss, rss, uss, anon, swap, cgroup, gauge };
// A gauge's name is interned (config_names.cc): the metric stays two words, trivially copied and
// compared, so rules on RSS or PSS pay nothing for gauges existing.
struct MemoryMetric {
  MetricKind kind = MetricKind::pss;
  uint32_t gauge_id = 0;  // kind == gauge: its interned name; 0 otherwise

  MemoryMetric() = default;
  MemoryMetric(MetricKind k) : kind(k) {}  // NOLINT: implicit, so MemoryMetric::rss reads as before
  static MemoryMetric of_gauge(std::string_view name);
  bool is_gauge() const { return kind == MetricKind::gauge; }
  // The gauge's name; empty for a memory kind. Valid for the program's lifetime.
  std::string_view gauge() const;
  bool operator==(const MemoryMetric&) const = default;

  // The memory kinds under their old enumerator names.
  static constexpr MetricKind pss = MetricKind::pss, rss = MetricKind::rss, uss = MetricKind::uss,
                              anon = MetricKind::anon, swap = MetricKind::swap,
                              cgroup = MetricKind::cgroup;
};
enum class LeakAction { recycle, alert };

// A rule on one size: warn, critical, total.
struct SizeRule {
  uint64_t size = 0;                   // bytes
  std::optional<MemoryMetric> metric;  // empty: the service's `metric`
};

// Above `size` for `samples` consecutive samples: recycle.
struct LimitRule {
  uint64_t size = 0;
  int samples = 3;  // TOML key `for`
  std::optional<MemoryMetric> metric;
};

// A sustained growth trend above `rate`.
struct LeakRule {
  uint64_t rate_bytes_per_hour = 0;
  LeakAction action = LeakAction::recycle;
  Millis sample{0};  // >0: take a heap sample this long before recycling
  std::optional<MemoryMetric> metric;
  // Growth that begins in this first stretch of a process's life is judged from twice its length
  // on, or at once when sudden (a start's cache fill and first GC cycle look like a leak until
  // the cycle has been seen to turn).
  Millis warmup{1'800'000};
};

// Recycle after `max` requests (counted by the worker library), plus up to `jitter` more drawn at
// random per instance lifetime, so a pool never restarts in lockstep.
struct RequestsRule {
  int64_t max = 0;
  int64_t jitter = 0;  // default when unset in the file: max / 10
};

// Recycle after `max` of uptime, plus up to `jitter` drawn at random per instance lifetime.
struct AgeRule {
  Millis max{0};
  Millis jitter{0};  // default when unset in the file: max / 10
};

struct MemoryRules {
  Millis interval{1000};  // sampling period, 100ms at least
  MemoryMetric metric = MemoryMetric::pss;
  bool tree = false;  // sum the instance's whole process tree
  std::optional<SizeRule> warn;
  std::optional<LimitRule> limit;
  std::optional<SizeRule> critical;
  std::optional<SizeRule> total;  // the sum over the service's instances
  std::optional<LeakRule> leak;
  std::optional<RequestsRule> requests;
  std::optional<AgeRule> age;
};

// An exec monitor (`monitor = { name, command, interval, timeout }`): `command` runs for each
// instance every `interval`; the number on the first line of its stdout becomes the instance's
// gauge `name`, as if the worker had reported it.
struct MonitorConfig {
  std::string name;
  std::vector<std::string> command;  // argv, run in the service's cwd as its user
  Millis interval{10000};
  Millis timeout{5000};  // default when unset in the file: half the interval, at most 5 s
};

struct ServiceConfig {
  std::string name;
  // argv; with `shell = true` the single string is run as {"/bin/sh", "-c", string}.
  std::vector<std::string> command;
  int instances = 1;
  std::map<std::string, std::string> env;
  std::string cwd;   // empty: memvisor's own working directory
  std::string user;  // empty: memvisor's own user; a name or a numeric uid (root only)
  // Where `user` is written (1-based; 0: not from a file): whether it exists is known only on the
  // machine that runs it (cli/config_file.h), and that message needs the position too.
  uint32_t user_line = 0, user_column = 0;

  RestartPolicy restart = RestartPolicy::always;
  Millis restart_delay{1000};       // first delay after a failed run
  double restart_backoff = 2.0;     // each consecutive failure multiplies the delay by this
  Millis restart_delay_max{60000};  // the delay never grows past this
  Millis min_uptime{10000};         // a run this long is stable: backoff and failures reset
  int circuit_failures = 5;         // consecutive failed starts that open the circuit
  // The kernel's OOM-killer bias for this service's processes, set in the child before exec (a
  // child would otherwise inherit memvisor's own low value): -1000 to 1000.
  int oom_score_adj = 0;
  Millis circuit_cooldown{60000};  // how long the circuit stays open before a half-open try

  int stop_signal = SIGINT;
  Millis stop_timeout{10000};  // after stop_signal, wait this long, then SIGTERM
  Millis kill_timeout{5000};   // after SIGTERM, wait this long, then SIGKILL the process group

  ReadyMode ready = ReadyMode::immediate;
  Millis startup_timeout{60000};  // notify mode: READY=1 must arrive within this
  Millis watchdog{0};             // 0: off; otherwise WATCHDOG=1 must arrive this often

  // Listening sockets memvisor binds once, before any instance, and hands to every instance and
  // replacement from fd 3 (LISTEN_FDS): one accept queue that no recycle ever closes.
  std::vector<SocketAddress> listen;
  int listen_backlog = 0;    // 0: SOMAXCONN (the kernel caps it at net.core.somaxconn)
  int listen_mode = 0666;    // unix sockets: the file's mode (systemd's SocketMode default)
  std::string listen_owner;  // unix sockets: "user" or "user:group"; empty: memvisor's own

  OutputMode output = OutputMode::prefix;
  std::string log_dir;  // output = "file": SERVICE.N.log files here (default STATE_DIR/logs)
  // output = "file": a log past this size moves to SERVICE.N.log.1 (0: never); log_keep kept.
  uint64_t log_max_size = uint64_t{64} << 20;
  int log_keep = 3;

  MemoryRules memory;
  // `memvisor sample` works: the native sampler preloaded, the runtimes' setup at spawn.
  bool heap_sampler = false;
  std::optional<RuntimeKind> heap_runtime;  // heap_sampler = "NAME"; nothing: per process
  std::string pprof;                        // a Go worker's net/http/pprof base URL
  // Each process in a memory cgroup of its own (SERVICE.N.GEN), where the machine allows it.
  bool cgroup = false;
  bool surge = true;      // recycle: start the replacement first, stop the old one once it is ready
  int max_recycling = 1;  // instances of this service recycling at once; others queue

  // A pre-fork server (gunicorn, puma, unicorn, php-fpm): every direct child of an instance's
  // process is measured and judged on its own, and recycled by a signal; its master forks the
  // replacement. The master is measured alone and never recycled for a child's memory.
  bool prefork = false;
  int prefork_signal = SIGTERM;   // asks a child being recycled to finish and exit
  Millis prefork_timeout{30000};  // then SIGKILL that child

  std::vector<MonitorConfig> monitors;  // `monitor`: one table or an array of them

  // memory_max (cgroup = true only): the kernel's hard limit, written into each instance's cgroup
  // before the worker starts, so a runaway is contained while the supervisor is down or stuck.
  // 0: off; memory_max_auto: critical + 10% (see effective_memory_max()).
  uint64_t memory_max = 0;
  bool memory_max_auto = false;
};

// [supervisor] pressure: memory PSI (the share of time tasks stalled waiting for memory) above a
// level over a window recycles one instance, then waits a window before the next (README "Memory
// pressure").
enum class PressureAction { recycle, alert };
enum class PressurePick { largest, fastest };  // private memory (USS), or its growth
struct PressureRule {
  std::optional<double> some_percent;  // some task stalled this share of the window (0–100]
  std::optional<double> full_percent;  // every non-idle task stalled (at least one of the two)
  Millis window{10000};                // the kernel's 500ms to 10s; also the cooldown
  PressureAction action = PressureAction::recycle;
  PressurePick pick = PressurePick::largest;
  // "host" (/proc/pressure/memory), "cgroup" (memvisor's own cgroup v2 memory.pressure), or the
  // absolute path of a PSI file (another cgroup's; a plain file for tests is read each round).
  std::string source = "host";
};

struct SupervisorConfig {
  std::string state_dir;          // empty: default_state_dir()
  std::optional<SizeRule> total;  // the sum over every instance of every service
  std::string http;  // "127.0.0.1:9464": serve /metrics, /health, /status there; empty: off
  // Incident bundles kept in STATE_DIR/incidents: at most this many and this many bytes, the
  // oldest removed first.
  int incidents_keep = 50;
  uint64_t incidents_max_size = uint64_t{500} << 20;
  std::string log_format;  // "text" or "json" (--log-format wins); empty: text
  // STATE_DIR/events.jsonl past this size moves to events.jsonl.1 (0: never); events_keep kept.
  uint64_t events_max_size = uint64_t{64} << 20;
  int events_keep = 3;
  // memvisor's own processes (controller, supervisor): low, so the OOM killer picks a worker.
  int oom_score_adj = -900;
  std::optional<PressureRule> pressure;
};

struct Config {
  std::string source;  // the file it came from, or "command line"
  SupervisorConfig supervisor;
  std::vector<ServiceConfig> services;

  // The service of that name; nullptr when there is none.
  const ServiceConfig* service(std::string_view name) const {
    for (const ServiceConfig& s : services) {
      if (s.name == name) return &s;
    }
    return nullptr;
  }
};

}  // namespace memvisor
