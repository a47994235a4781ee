// Replays labelled memory traces (a manifest.json and t_s,bytes CSVs) through leak detectors:
// memvisor's own and two baselines, so that leak_score can compare them on the same samples.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/leak/leak_detector.h"
#include "core/result.h"

namespace memvisor::bench {

struct Trace {
  std::string name;
  bool leak = false;  // label: a leak that must be reported
  double slope_mib_per_hour = 0;
  double leak_start_s = 0;  // a report before this is a false alarm
  // How long the program's warm-up lasts, when its manifest says (`warmup_s`): what its service's
  // `warmup` would be set to. Used only with leak_score --declared-warmup.
  std::optional<double> warmup_s;
  std::vector<std::pair<double, double>> samples;  // (t_s, bytes)
};

// Every trace listed in DIR/manifest.json, with its samples.
Result<std::vector<Trace>> load_suite(const std::string& dir);

// A detector as the harness sees it: samples in, "reporting a leak now?" out.
class ReplayDetector {
 public:
  virtual ~ReplayDetector() = default;
  virtual void add(double t_s, double bytes) = 0;
  virtual bool leaking() const = 0;
};

// memvisor's leak rule with the given threshold, and the rule's default warm-up unless one is
// given: the configuration, and a detector of it.
LeakDetectorConfig memvisor_rule(double rate_mib_per_hour, std::optional<double> warmup_s = {});
std::unique_ptr<ReplayDetector> make_memvisor_detector(double rate_mib_per_hour,
                                                       std::optional<double> warmup_s = {});
// Seed 004: memory resampled every 60 s; over the last 12 samples,
// (newest - oldest) * (60 / 12) MiB/h above the rate is a leak.
std::unique_ptr<ReplayDetector> make_seed004_detector(double rate_mib_per_hour);
// The memory-leak Ruby gem (Memory::Leak::Monitor): a sample more than 10 MiB above the recorded
// maximum is a "rise" and becomes the new maximum; 20 rises are a leak. Fed every sample.
std::unique_ptr<ReplayDetector> make_ruby_gem_detector();

struct ReplayOutcome {
  std::optional<double> first_report_s;        // any report
  std::optional<double> first_valid_report_s;  // first report at or after leak_start_s
  bool false_alarm = false;  // reported on a `none` trace, or before a leak started
  int alarm_episodes = 0;    // on a `none` trace: how many times a report started
  double watched_s = 0;      // on a `none` trace: its duration
};

ReplayOutcome replay(const Trace& trace, ReplayDetector& detector);

}  // namespace memvisor::bench
