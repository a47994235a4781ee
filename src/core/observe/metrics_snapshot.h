// What /metrics, /health and /status show, frozen at one moment: the supervisor builds it after
// each sample and each controller event; the HTTP thread only reads it.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace memvisor {

struct InstanceMemory {
  uint64_t rss = 0;
  uint64_t pss = 0;
  uint64_t uss = 0;
  uint64_t swap = 0;
  uint64_t anon = 0;  // private anonymous memory (heap, stacks): metric = "anon"
};

// One instance number of a service, as its serving (primary) process shows it.
struct InstanceMetrics {
  std::string service;
  int instance = 0;
  int generation = 0;
  std::string state;                                  // "running", "starting", "backoff", …
  bool up = false;                                    // a process is alive
  bool ready = false;                                 // and serving
  std::optional<double> started_at_s;                 // unix seconds, while a process is alive
  std::optional<InstanceMemory> memory;               // the last sample
  std::optional<double> leak_slope_bytes_per_second;  // when a leak rule has judged a span
  // The leak rule's verdict on that span: the slope's confidence bound above the rate, a trend
  // rather than a few steps, not slowing, new ground, past the warm-up. The slope alone is the
  // most leak-like span's and stays high for hours after a start ramp.
  std::optional<bool> leak_detected;
  std::map<std::string, uint64_t> restarts_by_reason;
  // The subset of those restarts that were recycles (a rule or an operator replaced a live
  // process), and recycles of its pre-fork children, by reason.
  std::map<std::string, uint64_t> recycles_by_reason;
  std::map<std::string, uint64_t> child_recycles_by_reason;
  std::string circuit = "closed";  // the crash-loop circuit: "closed", "open", "half-open"
  // Down as asked (`memvisor stop`): not in a loop whatever its circuit says, so no circuit state
  // is exported for it (the shipped crash-loop alert paged on for a worker an operator stopped).
  bool stopped_on_purpose = false;
  int consecutive_failures = 0;  // failed runs in a row, what opens the circuit
  // Requests the worker reported through the worker library; absent for workers that do not
  // use it (an unmodified program).
  std::optional<uint64_t> requests_total;
  // Its cgroup's usage at the last sample, where measured (cgroup = true, metric = "cgroup").
  std::optional<uint64_t> cgroup_memory;
  // Gauges its process reported (worker protocol) or its exec monitors read: latest value by name.
  std::map<std::string, double> gauges;
};

// A pre-fork child of an instance's process (prefork = true), "web.1/12345".
struct ChildMetrics {
  std::string service;
  int instance = 0;
  int pid = 0;
  double started_at_s = 0;  // unix seconds
  std::optional<InstanceMemory> memory;
  std::optional<double> leak_slope_bytes_per_second;
};

// A size rule's threshold, for alerts that compare memory with it (time to limit).
struct MemoryThreshold {
  std::string rule;  // "warn", "limit", "critical", "total"
  std::string kind;  // the figure the rule reads: "pss", "rss", …, as the memory series' `kind`
  uint64_t bytes = 0;
};

struct ServiceMetrics {
  std::string name;
  int desired = 0;
  int ready = 0;
  std::vector<std::string> not_ready;     // "web.2 (backoff)", for /health
  std::vector<std::string> lost_listens;  // addresses a worker shut down for good, for /health
  InstanceMemory memory;                  // summed over every process, a recycle's replacement too
  std::optional<double> leak_rate_bytes_per_second;  // the leak rule's `rate`, when it has one
  std::vector<MemoryThreshold> thresholds;
};

// memvisor's own processes, read from /proc/PID/stat.
struct ProcessUsage {
  std::string process;  // "controller" or "supervisor"
  double resident_bytes = 0;
  double cpu_seconds = 0;
  double start_time_seconds = 0;  // unix seconds
};

// An exec monitor of a service, its counters summed over the service's instances.
struct MonitorMetrics {
  std::string service;
  std::string monitor;
  uint64_t runs = 0;     // runs that ended, with a value or a failure
  uint64_t skipped = 0;  // due while the instance's previous run was still going
  std::map<std::string, uint64_t> failures;  // by reason: exec, exit, timeout, not_a_number
};

// [supervisor] pressure: what its PSI source reads and what the rule did.
struct PressureMetrics {
  bool trigger = false;  // a PSI trigger is armed (else avg10 is read each sampling round)
  uint64_t fires = 0;    // trigger wake-ups, or polled rounds above the threshold
  uint64_t recycles = 0;
  std::optional<double> some_avg10;  // percent, the latest reading
  std::optional<double> full_avg10;
};

struct MetricsSnapshot {
  std::vector<ServiceMetrics> services;
  std::vector<InstanceMetrics> instances;
  std::vector<ChildMetrics> children;
  std::vector<MonitorMetrics> monitors;  // every configured monitor, counters from 0
  nlohmann::json status;                 // exactly what `memvisor status --json` prints
  int controller_pid = 0;
  // Times the controller restarted the supervisor (the controller's count, so it survives them).
  std::optional<uint64_t> supervisor_restarts;
  std::optional<PressureMetrics> pressure;  // only with the rule
};

}  // namespace memvisor
