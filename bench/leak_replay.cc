// Trace loading, the two baseline detectors and the replay loop used by leak_score.
#include "leak_replay.h"

#include <charconv>
#include <deque>
#include <fstream>
#include <nlohmann/json.hpp>

namespace memvisor::bench {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;

Result<std::vector<std::pair<double, double>>> load_csv(const std::string& path) {
  std::ifstream in(path);
  if (!in) return Error::from_errno("open " + path);
  std::vector<std::pair<double, double>> samples;
  std::string line;
  std::getline(in, line);  // header t_s,bytes
  int line_number = 1;
  while (std::getline(in, line)) {
    ++line_number;
    if (line.empty()) continue;
    const auto comma = line.find(',');
    double t = 0, bytes = 0;
    const char* end = line.data() + line.size();
    if (comma == std::string::npos ||
        std::from_chars(line.data(), line.data() + comma, t).ec != std::errc{} ||
        std::from_chars(line.data() + comma + 1, end, bytes).ec != std::errc{}) {
      return Error{path + ":" + std::to_string(line_number) + ": expected t_s,bytes"};
    }
    samples.emplace_back(t, bytes);
  }
  return samples;
}

class MemvisorDetector final : public ReplayDetector {
 public:
  MemvisorDetector(double rate, std::optional<double> warmup_s)
      : detector_(memvisor_rule(rate, warmup_s)) {}
  void add(double t_s, double bytes) override { detector_.add(t_s, bytes); }
  bool leaking() const override { return detector_.assess().leaking; }

 private:
  LeakDetector detector_;
};

class Seed004Detector final : public ReplayDetector {
 public:
  explicit Seed004Detector(double rate) : rate_(rate) {}
  void add(double t_s, double bytes) override {
    if (!started_) next_tick_ = t_s, started_ = true;
    // The value at each tick is the latest sample at or before it.
    while (t_s >= next_tick_) {
      window_.push_back(t_s == next_tick_ || !has_last_ ? bytes : last_);
      if (window_.size() > kWindow) window_.pop_front();
      next_tick_ += 60;
    }
    last_ = bytes;
    has_last_ = true;
  }
  bool leaking() const override {
    if (window_.size() < kWindow) return false;
    const double per_hour = (window_.back() - window_.front()) / kMiB * (60.0 / kWindow);
    return per_hour > rate_;
  }

 private:
  static constexpr size_t kWindow = 12;
  double rate_;
  std::deque<double> window_;
  double next_tick_ = 0, last_ = 0;
  bool started_ = false, has_last_ = false;
};

class RubyGemDetector final : public ReplayDetector {
 public:
  void add(double, double bytes) override {
    if (!has_maximum_) {
      maximum_ = bytes, has_maximum_ = true;
    } else if (bytes - maximum_ > 10 * kMiB) {
      maximum_ = bytes;
      ++count_;
    }
  }
  bool leaking() const override { return count_ >= 20; }

 private:
  double maximum_ = 0;
  bool has_maximum_ = false;
  int count_ = 0;
};

}  // namespace

LeakDetectorConfig memvisor_rule(double rate_mib_per_hour, std::optional<double> warmup_s) {
  LeakDetectorConfig config{.rate_bytes_per_hour = rate_mib_per_hour * kMiB};
  if (warmup_s) config.warmup_s = *warmup_s;
  return config;
}

Result<std::vector<Trace>> load_suite(const std::string& dir) {
  const std::string manifest_path = dir + "/manifest.json";
  std::ifstream in(manifest_path);
  if (!in) return Error::from_errno("open " + manifest_path);
  std::vector<Trace> traces;
  try {
    const auto manifest = nlohmann::json::parse(in);
    for (const auto& entry : manifest.at("traces")) {
      Trace trace;
      trace.name = entry.at("name").get<std::string>();
      trace.leak = entry.at("label").get<std::string>() == "leak";
      trace.slope_mib_per_hour = entry.value("slope_mib_per_hour", 0.0);
      trace.leak_start_s = entry.value("leak_start_s", 0.0);
      if (entry.contains("warmup_s")) trace.warmup_s = entry.at("warmup_s").get<double>();
      auto samples = load_csv(dir + "/" + entry.at("file").get<std::string>());
      if (!samples) return samples.error();
      trace.samples = std::move(*samples);
      traces.push_back(std::move(trace));
    }
  } catch (const nlohmann::json::exception& e) {
    return Error{manifest_path + ": " + e.what()};
  }
  return traces;
}

std::unique_ptr<ReplayDetector> make_memvisor_detector(double rate_mib_per_hour,
                                                       std::optional<double> warmup_s) {
  return std::make_unique<MemvisorDetector>(rate_mib_per_hour, warmup_s);
}

std::unique_ptr<ReplayDetector> make_seed004_detector(double rate_mib_per_hour) {
  return std::make_unique<Seed004Detector>(rate_mib_per_hour);
}

std::unique_ptr<ReplayDetector> make_ruby_gem_detector() {
  return std::make_unique<RubyGemDetector>();
}

ReplayOutcome replay(const Trace& trace, ReplayDetector& detector) {
  ReplayOutcome outcome;
  bool was_leaking = false;
  for (const auto& [t, bytes] : trace.samples) {
    detector.add(t, bytes);
    const bool leaking = detector.leaking();
    if (leaking && !was_leaking && !trace.leak) ++outcome.alarm_episodes;
    was_leaking = leaking;
    if (!leaking) continue;
    if (!outcome.first_report_s) outcome.first_report_s = t;
    if (!trace.leak || t < trace.leak_start_s) {
      outcome.false_alarm = true;
    } else if (!outcome.first_valid_report_s) {
      outcome.first_valid_report_s = t;
      // Nothing later can change the verdict: a false alarm would have come before.
      break;
    }
  }
  if (!trace.leak && !trace.samples.empty()) {
    outcome.watched_s = trace.samples.back().first - trace.samples.front().first;
  }
  return outcome;
}

}  // namespace memvisor::bench
