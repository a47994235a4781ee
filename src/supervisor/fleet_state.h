// The supervisor's picture of the fleet, kept only from the controller's channel: the snapshot,
// then events and instance updates. Pure: time is an argument.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "core/config/config.h"
#include "core/time_format.h"

namespace memvisor {

// One process of the fleet as the controller last described it: the fields the supervisor's
// rounds read typed (read every sample for every instance, so never parsed again), and the
// controller's whole record for status and /metrics.
struct FleetProcess {
  std::string service;
  int instance = 0;
  int generation = 0;
  int pid = 0;  // 0 while not running
  std::string state;
  bool primary = true;     // false for a recycle's replacement until it takes over
  bool recycling = false;  // this instance number is being replaced
  std::string cgroup;      // its own memory cgroup (cgroup = true), relative to the hierarchy
  unsigned long long start_ticks = 0;
  std::optional<double> started_at;  // Unix seconds
  nlohmann::json record;

  // Running or about to: measured, judged when primary.
  bool measured() const { return pid != 0 && (state == "running" || state == "starting"); }
  // Has a process that may still speak to us (stopping included).
  bool live() const { return measured() || (pid != 0 && state == "stopping"); }
};

class FleetState {
 public:
  // Applies one message from the controller (snapshot, event, instance, config after a reload,
  // reply). Returns false for a message it does not understand.
  bool apply(const nlohmann::json& message);

  bool has_snapshot() const { return has_snapshot_; }
  const Config& config() const { return config_; }
  // The configured service of that name; nullptr when there is none.
  const ServiceConfig* service(std::string_view name) const { return config_.service(name); }
  // What to tell a client whose target names no service: "no service 'x'", or, for "web.0" (a
  // service name has no dot, so that was an instance number out of range), "no instance web.0
  // (web has 2, numbered from 1)".
  std::string no_service(std::string_view name) const;
  // Every known process of `service` (both of a recycling instance), in (instance, generation)
  // order. Valid until the next apply().
  const std::vector<FleetProcess>& processes(const std::string& service) const;
  // The instance numbers of `service` that serve: one of their processes is running (ready),
  // and not a crash loop's half-open try still on probation.
  // During a surge recycle that is the old process until it stops, and its ready replacement
  // after. One pass over the service's processes, sorted.
  std::vector<int> serving_instances(const std::string& service) const;
  bool serving(const std::string& service, int number) const;
  // The `status` answer: every instance with its uptime at `now`, in configuration order.
  nlohmann::json status(WallTime now) const;
  // Restarts of each instance number by reason ("crash", "leak", …), counted from the `started`
  // events since this supervisor started: like any Prometheus counter, they reset when it does.
  using RestartCounts = std::map<std::string, uint64_t>;
  const RestartCounts& restarts(const std::string& service, int instance) const;
  // The restarts that were recycles (they replaced a live process), by reason; and the recycles
  // of the instance's pre-fork children. Counted the same way, reset the same way.
  const RestartCounts& recycles(const std::string& service, int instance) const;
  const RestartCounts& child_recycles(const std::string& service, int instance) const;
  // The listening addresses of `service` a worker shut down for good (a Unix socket after
  // shutdown(2)): refused until memvisor restarts, so the service is not healthy.
  std::vector<std::string> lost_listens(const std::string& service) const;
  // Times the controller restarted the supervisor, from its snapshot: absent from an older one.
  std::optional<uint64_t> supervisor_restarts() const { return supervisor_restarts_; }

 private:
  void update_instance(const nlohmann::json& record);

  bool has_snapshot_ = false;
  Config config_;
  int controller_pid_ = 0;
  // By service, sorted by (instance, generation): during a surge recycle an instance number has
  // two processes.
  std::map<std::string, std::vector<FleetProcess>, std::less<>> processes_;
  std::map<std::pair<std::string, int>, RestartCounts> restarts_;
  std::map<std::pair<std::string, int>, RestartCounts> recycles_;
  std::map<std::pair<std::string, int>, RestartCounts> child_recycles_;
  std::optional<uint64_t> supervisor_restarts_;
  std::map<std::string, std::vector<std::string>, std::less<>> lost_listens_;
};

}  // namespace memvisor
