// The supervisor's picture of the fleet, kept only from the controller's channel: the snapshot,
// then events and instance updates. Pure: time is an argument.
#pragma once

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "core/config.h"
#include "core/time_format.h"

namespace memvisor {

class FleetState {
 public:
  // Applies one message from the controller. Returns false for a message it does not understand.
  bool apply(const nlohmann::json& message);

  bool has_snapshot() const { return has_snapshot_; }
  const Config& config() const { return config_; }
  // Every known process of `service` (both of a recycling instance), in instance order.
  std::vector<nlohmann::json> processes(const std::string& service) const;
  // The `status` answer: every instance with its uptime at `now`, in configuration order.
  nlohmann::json status(WallTime now) const;
  // Restarts of each instance number by reason ("crash", "leak", …), counted from the `started`
  // events since this supervisor started: like any Prometheus counter, they reset when it does.
  using RestartCounts = std::map<std::string, uint64_t>;
  const RestartCounts& restarts(const std::string& service, int instance) const;

 private:
  void update_instance(const nlohmann::json& record);

  bool has_snapshot_ = false;
  Config config_;
  int controller_pid_ = 0;
  // (service, instance, generation): during a surge recycle an instance number has two processes.
  std::map<std::tuple<std::string, int, int>, nlohmann::json> instances_;
  std::map<std::pair<std::string, int>, RestartCounts> restarts_;
};

}  // namespace memvisor
