// Measuring every process of the fleet on its service's interval and running the memory rules on
// the samples. Keeps a bounded time series per process for incident reports and status.
#pragma once

#include <deque>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "core/rules/checkpoint.h"
#include "core/rules/gauge_store.h"
#include "core/rules/memory_rules.h"
#include "core/rules/timed_sample.h"
#include "core/time_format.h"
#include "os/cgroup_memory_reader.h"
#include "os/memory_reader.h"
#include "os/process_usage.h"
#include "supervisor/fleet_state.h"

namespace memvisor {

// What the rules asked for, with everything the supervisor needs to act on it.
struct RuleAction {
  std::string service;
  int instance = 0;
  int generation = 0;
  int pid = 0;
  RuleDecision decision;
  // A pre-fork child's pid (`pid` is then the child's too) and start time; 0: the instance's own
  // process.
  int child = 0;
  uint64_t child_start_ticks = 0;
};

class MemoryWatch {
 public:
  explicit MemoryWatch(std::string proc_root = kProcRoot) : proc_root_(std::move(proc_root)) {}

  // Samples every process whose service is due at `now` (steady seconds) and returns the rule
  // decisions. `fleet` gives the processes; their records carry pid and start_ticks.
  std::vector<RuleAction> sample_due(double now_s, WallTime wall, const FleetState& fleet);
  // A reload: every process's rules follow its service's new config, keeping their history;
  // processes of a removed service are no longer judged. Every service is due at once, so a
  // shorter interval applies now.
  void reconfigure(const Config& config);
  // When the next service is due (steady seconds), given the config.
  double next_due(const FleetState& fleet) const;

  // The retained series and last values of a process, for status and incident reports.
  using Key = std::tuple<std::string, int, int>;  // service, instance, generation
  // One measured unit: an instance's process (child 0) or, with prefork, one of its children.
  using UnitKey = std::tuple<std::string, int, int, int>;  // … and the child's pid
  static UnitKey unit_of(const Key& key, int child = 0) {
    return {std::get<0>(key), std::get<1>(key), std::get<2>(key), child};
  }
  static UnitKey unit_of(const RuleAction& action) {
    return {action.service, action.instance, action.generation, action.child};
  }
  // Samples one instance's process now, whatever its service's interval, and returns the rule
  // decisions: what a kernel threshold notification asks for (the same path as sample_due's).
  std::vector<RuleAction> sample_one(const Key& key, double now_s, WallTime wall,
                                     const FleetState& fleet);
  const std::deque<TimedSample>* series(const UnitKey& key) const;
  const std::deque<TimedSample>* series(const Key& key) const { return series(unit_of(key)); }
  // The series a restored checkpoint holds for a process not watched (yet): one that ended while
  // no supervisor ran, whose incident bundle still wants what memory did up to its end.
  const std::vector<TimedSample>* checkpointed_series(const UnitKey& key) const;
  const ProcessRules* rules(const UnitKey& key) const;
  // Unix seconds the series' times count from (the process's start); 0 when it is not watched.
  double series_origin(const UnitKey& key) const;
  const ProcessRules* rules(const Key& key) const { return rules(unit_of(key)); }
  // A recycle that failed may be asked for again (ProcessRules::allow_again: after a pause
  // counted from `wall`).
  void allow_again(const UnitKey& key, WallTime wall);
  // A recycle decided earlier (a leak's, after its heap sample) has now been asked for.
  void recycle_requested(const UnitKey& key);

  // A pre-fork child of an instance's process, as the last round found it.
  struct Child {
    int pid = 0;
    uint64_t start_ticks = 0;
    double started_at_s = 0;  // unix seconds
  };
  // The children of an instance's process (prefork = true), by pid.
  std::vector<Child> children(const Key& key) const;

  // The request count the worker library reported for a process (its running total), and the
  // decisions it triggers now (the requests rule); checked again on every sample.
  std::vector<RuleAction> set_requests(const Key& key, int64_t total, WallTime wall,
                                       const FleetState& fleet);
  // Requests served by a process, as last reported (0 when it never reported). The one place
  // status and metrics read request counts from.
  int64_t requests(const Key& key) const;

  // A gauge of a process: the single entry point for worker gauges ({"type":"gauge"} on the
  // worker protocol) and exec monitors. `name` must pass valid_gauge_name() and `value` be
  // finite (anything else is ignored: callers report the error to whoever sent it); a new name
  // past kMaxGauges per process is dropped (see gauge_full). `now_s` is steady seconds, the clock
  // of sample_due. The latest value per name wins; the series gets one value per memory sample
  // round while the gauge is fresh; everything goes with the process.
  void on_gauge(const Key& key, std::string_view name, double value, double now_s);
  // Whether on_gauge would drop `name` for this process: it is new and the process is full.
  bool gauge_full(const Key& key, std::string_view name) const;
  // The gauges of a process (latest values and series); null when it reported none.
  const GaugeStore* gauges(const Key& key) const;
  static constexpr size_t kMaxGauges = GaugeStore::kMaxNames;
  // What the rules could not judge at the process's last sample ("waiting for gauge NAME", "gauge
  // NAME is stale: not judged"); empty when every gauge they read was fresh.
  std::vector<std::string> waiting(const Key& key) const;

  // Whether a process's cgroup is measured: a rule reads it (metric = "cgroup"), or the
  // controller placed the process in a cgroup of its own (`cgroup_path`, from the fleet record's
  // "cgroup"; empty when none).
  static bool measures_cgroup(const ServiceConfig& service, std::string_view cgroup_path);

  // Checkpointing (supervisor_checkpoint.cc writes the file): every judged process's identity,
  // rules state and retained series, each series cut to its newest samples so that the whole
  // encodes to about `max_bytes` at most (the detectors' own states are bounded by construction).
  std::vector<CheckpointEntry> checkpoint(size_t max_bytes) const;
  // A dead supervisor's checkpoint: a process of the fleet that is the same one (pid and start
  // time) gets its rules state and series back when it is first seen; entries no round claims
  // within kRestoreRounds rounds (the process is gone, or its pid was reused) are dropped.
  void restore(std::vector<CheckpointEntry> entries);
  static constexpr uint64_t kRestoreRounds = 3;
  // What the restore did, once it is over: processes restored, entries dropped.
  struct RestoreOutcome {
    size_t restored = 0, dropped = 0, unreadable = 0;
  };
  std::optional<RestoreOutcome> restore_outcome();

  // Samples kept per process: a day at 10 s, 1 h at 100 ms.
  static constexpr size_t kMaxSamples = 8640;

 private:
  struct Watched {
    std::optional<ProcessRules> rules;
    int pid = 0;
    // With the pid, names the process (checkpoints); a pre-fork child's also tells a new process
    // under a known pid, which starts over.
    uint64_t start_ticks = 0;
    std::deque<TimedSample> samples;
    double started_at_s = 0;  // wall clock, from the controller
    bool seen = false;
    uint64_t round = 0;                // the last sample_due() that found it in the fleet
    std::vector<std::string> waiting;  // see waiting()
  };

  // The `cgroup` metric: the memory of the process's own cgroup, as the controller named it in
  // the fleet (`cgroup_path`, relative to the memory hierarchy); without one, the cgroup the
  // process is in, shared with whatever else is in it.
  uint64_t cgroup_memory(pid_t pid, std::string_view cgroup_path);

  // One reader per service, each holding its processes' /proc files open between samples and
  // closing those of processes gone by its next round (services sample on their own intervals).
  // Its rollup is re-read at once when the process's page counts change, and at least every 10 s.
  ProcMemoryReader& reader_for(const ServiceConfig& service);
  // prefork = true: finds the children of an instance's process, measures each and runs the
  // rules on it as on an instance. `sample_now` false only keeps the known ones.
  void sample_children(const ServiceConfig& service, const FleetProcess& process,
                       ProcMemoryReader& reader, bool sample_now, double wall_s,
                       std::vector<RuleAction>& actions);
  // A process just seen: its checkpointed state, when the restore holds one for this very
  // process (memory_watch_checkpoint.cc).
  void adopt_checkpoint(const UnitKey& key, Watched& watched);
  // The watch record of a process, made (with its rules) on first sight.
  Watched& watch(const ServiceConfig& service, const FleetProcess& process, double wall_s);
  // Measures one process and runs its rules (when it is the primary) on the sample.
  void sample_process(const ServiceConfig& service, const FleetProcess& process, Watched& watched,
                      ProcMemoryReader& reader, double now_s, double wall_s,
                      std::vector<RuleAction>& actions);
  // Unix seconds at which a process started, from its start time in clock ticks.
  double started_at(uint64_t start_ticks, double fallback_s);

  std::string proc_root_;
  std::map<std::string, ProcMemoryReader> readers_;
  std::optional<Result<CgroupMemoryReader>> cgroups_;  // detected on first use
  std::map<UnitKey, Watched> watched_;
  std::optional<Result<ProcessClock>> clock_;  // boot time and tick rate, read on first use
  std::map<Key, int64_t> requests_;            // per process, from the worker library
  std::map<Key, GaugeStore> gauges_;           // per process, from workers and exec monitors
  uint64_t round_ = 0;
  std::map<std::string, double> next_due_;  // per service
  std::mt19937_64 random_{std::random_device{}()};
  bool fallback_logged_ = false;
  std::map<UnitKey, CheckpointEntry> restoring_;  // from restore(), until claimed or dropped
  uint64_t restore_until_round_ = 0;
  std::optional<RestoreOutcome> restore_outcome_;
  bool restore_reported_ = true;
};

}  // namespace memvisor
