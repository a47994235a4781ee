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
  std::map<std::string, uint64_t> restarts_by_reason;
  // Requests the worker reported through the worker library; absent for workers that do not
  // use it (an unmodified program).
  std::optional<uint64_t> requests_total;
  // Its cgroup's usage at the last sample, where measured (cgroup = true, metric = "cgroup").
  std::optional<uint64_t> cgroup_memory;
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

struct ServiceMetrics {
  std::string name;
  int desired = 0;
  int ready = 0;
  std::vector<std::string> not_ready;  // "web.2 (backoff)", for /health
  InstanceMemory memory;               // summed over every process, a recycle's replacement too
};

// memvisor's own processes, read from /proc/PID/stat.
struct ProcessUsage {
  std::string process;  // "controller" or "supervisor"
  double resident_bytes = 0;
  double cpu_seconds = 0;
  double start_time_seconds = 0;  // unix seconds
};

struct MetricsSnapshot {
  std::vector<ServiceMetrics> services;
  std::vector<InstanceMetrics> instances;
  std::vector<ChildMetrics> children;
  nlohmann::json status;  // exactly what `memvisor status --json` prints
  int controller_pid = 0;
};

}  // namespace memvisor
