// The checkpointed state of the memory rules: a detector (and a process's rules) saved midway and
// restored gives exactly the verdicts of one that never stopped; the checkpoint file round-trips;
// garbage, a torn file and another version are refused with an error, never a crash.
#include "core/rules/checkpoint.h"

#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "core/leak/state_codec.h"
#include "core/rules/memory_rules.h"

// GCC 12 at -O1 warns falsely about a rule's optional MemoryMetric in a default ServiceConfig
// (see memory_rules_test.cc).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace memvisor {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;

// A GC-like worker: a 20 MiB sawtooth every 5 minutes over a floor leaking 30 MiB/h, with noise.
std::vector<std::pair<double, double>> series(size_t n, double interval_s, uint64_t seed) {
  std::mt19937_64 random(seed);
  std::normal_distribution<double> noise(0, 1.5);
  std::vector<std::pair<double, double>> out;
  for (size_t i = 0; i < n; ++i) {
    const double t = static_cast<double>(i) * interval_s;
    const double saw = 20 * (t / 300 - std::floor(t / 300));
    out.emplace_back(t, (300 + 30 * t / 3600 + saw + noise(random)) * kMiB);
  }
  return out;
}

LeakDetectorConfig detector_config() {
  return LeakDetectorConfig{.rate_bytes_per_hour = 10 * kMiB, .warmup_s = 600};
}

void expect_same(const LeakAssessment& a, const LeakAssessment& b, double t) {
  EXPECT_EQ(a.leaking, b.leaking) << t;
  EXPECT_EQ(a.slope_bytes_per_hour, b.slope_bytes_per_hour) << t;
  EXPECT_EQ(a.slope_low_bytes_per_hour, b.slope_low_bytes_per_hour) << t;
  EXPECT_EQ(a.confidence, b.confidence) << t;
  EXPECT_EQ(a.span_s, b.span_s) << t;
  EXPECT_EQ(a.floor_window_s, b.floor_window_s) << t;
  EXPECT_EQ(a.floor_bytes, b.floor_bytes) << t;
  EXPECT_EQ(a.reason, b.reason) << t;
}

TEST(Checkpoint, ARestoredDetectorGivesTheVerdictsOfOneThatNeverStopped) {
  // 3 h at 10 s; saved after 1 h 40 min (mid-bucket), fed the remaining 80 min.
  const auto points = series(1080, 10, 7);
  const size_t n = 601;
  LeakDetector whole(detector_config());
  LeakDetector first(detector_config());
  for (size_t i = 0; i < n; ++i) {
    whole.add(points[i].first, points[i].second);
    first.add(points[i].first, points[i].second);
  }
  StateWriter out;
  first.save(out);
  LeakDetector restored(detector_config());
  StateReader in(out.data());
  ASSERT_TRUE(restored.restore(in));
  EXPECT_EQ(in.remaining(), 0u);
  EXPECT_EQ(restored.verdicts(), whole.verdicts());
  expect_same(restored.assess(), whole.assess(), points[n - 1].first);
  bool leaked = false;
  for (size_t i = n; i < points.size(); ++i) {
    whole.add(points[i].first, points[i].second);
    restored.add(points[i].first, points[i].second);
    expect_same(restored.assess(), whole.assess(), points[i].first);
    leaked = leaked || whole.assess().leaking;
  }
  EXPECT_EQ(restored.verdicts(), whole.verdicts());
  EXPECT_TRUE(leaked) << whole.assess().reason;  // the comparison covered a leak verdict
}

TEST(Checkpoint, AFreshDetectorFedOnlyTheRestJudgesDifferently) {
  // The negative control of the test above: without the saved state the verdicts differ.
  const auto points = series(1080, 10, 7);
  LeakDetector whole(detector_config());
  LeakDetector fresh(detector_config());
  for (size_t i = 0; i < 601; ++i) whole.add(points[i].first, points[i].second);
  size_t differing = 0;
  for (size_t i = 601; i < points.size(); ++i) {
    whole.add(points[i].first, points[i].second);
    fresh.add(points[i].first, points[i].second);
    differing += whole.assess().span_s != fresh.assess().span_s;
  }
  EXPECT_GT(differing, 0u);
  EXPECT_NE(fresh.verdicts(), whole.verdicts());
}

TEST(Checkpoint, ADetectorOfAnotherHistoryLengthRefusesTheState) {
  LeakDetector detector(detector_config());
  for (const auto& [t, v] : series(100, 10, 1)) detector.add(t, v);
  StateWriter out;
  detector.save(out);
  LeakDetectorConfig other = detector_config();
  other.history_s = 6 * 3600.0;
  LeakDetector restored(other);
  StateReader in(out.data());
  EXPECT_FALSE(restored.restore(in));
  EXPECT_EQ(restored.verdicts(), 0u);
  EXPECT_EQ(restored.assess().span_s, 0);
}

ServiceConfig leaky_service() {
  ServiceConfig service;
  service.memory.leak = LeakRule{};
  service.memory.leak->rate_bytes_per_hour = static_cast<uint64_t>(10 * kMiB);
  service.memory.leak->action = LeakAction::alert;
  service.memory.leak->warmup = Millis(600'000);
  service.memory.warn = SizeRule{static_cast<uint64_t>(310 * kMiB), std::nullopt};
  return service;
}

std::vector<std::string> decisions(ProcessRules& rules,
                                   const std::vector<std::pair<double, double>>& points,
                                   size_t from, size_t to) {
  std::vector<std::string> out;
  for (size_t i = from; i < to; ++i) {
    MemoryValues values;
    values.pss = static_cast<uint64_t>(points[i].second);
    for (const RuleDecision& d : rules.on_sample(points[i].first, values)) {
      out.push_back(std::to_string(points[i].first) + " " + d.rule + " " + d.message);
    }
  }
  return out;
}

TEST(Checkpoint, RestoredRulesNeitherRepeatNorForgetADecision) {
  const ServiceConfig service = leaky_service();
  const auto points = series(1080, 10, 3);
  ProcessRules whole(service, 0.25);
  ProcessRules first(service, 0.25);
  const size_t n = 150;  // 25 minutes: within the warm-up, before any leak verdict
  auto expected = decisions(whole, points, 0, n);
  ASSERT_EQ(decisions(first, points, 0, n), expected);
  ASSERT_FALSE(expected.empty());  // the warn came before the save: it must not come again
  ProcessRules restored(service, 0.9);
  ASSERT_TRUE(restored.restore_state(first.save_state()));
  const auto rest = decisions(whole, points, n, points.size());
  ASSERT_FALSE(rest.empty());  // the leak alert comes after the save
  EXPECT_EQ(decisions(restored, points, n, points.size()), rest);
  EXPECT_EQ(restored.leak_verdicts(), whole.leak_verdicts());
}

TEST(Checkpoint, RulesStateUnderAConfigWithoutALeakRuleKeepsTheDecisionsOnly) {
  const auto points = series(200, 10, 3);
  const ServiceConfig service = leaky_service();  // ProcessRules keeps a reference to it
  ProcessRules first(service, 0.5);
  (void)decisions(first, points, 0, points.size());
  ServiceConfig no_leak = leaky_service();
  no_leak.memory.leak.reset();
  ProcessRules restored(no_leak, 0.5);
  ASSERT_TRUE(restored.restore_state(first.save_state()));
  EXPECT_EQ(restored.leak_assessment(), nullptr);
  EXPECT_TRUE(decisions(restored, points, 0, 10).empty());  // warned already
}

std::vector<CheckpointEntry> sample_entries() {
  const ServiceConfig service = leaky_service();  // ProcessRules keeps a reference to it
  ProcessRules rules(service, 0.5);
  const auto points = series(300, 10, 5);
  (void)decisions(rules, points, 0, points.size());
  CheckpointEntry e;
  e.service = "web";
  e.instance = 2;
  e.generation = 3;
  e.pid = 4242;
  e.start_ticks = 987654321;
  e.started_at_s = 1.7e9;
  e.rules_state = rules.save_state();
  for (const auto& [t, v] : points) {
    TimedSample s;
    s.t_s = t;
    s.values.pss = static_cast<uint64_t>(v);
    s.values.rss = static_cast<uint64_t>(v) + 1;
    s.values.cgroup = 7;
    e.samples.push_back(s);
  }
  CheckpointEntry child = e;
  child.child = 4300;
  child.pid = 4300;
  child.samples.resize(3);
  return {e, child};
}

TEST(Checkpoint, TheFileRoundTrips) {
  const auto entries = sample_entries();
  const std::string file = encode_checkpoint(entries);
  auto decoded = decode_checkpoint(file);
  ASSERT_TRUE(decoded) << decoded.error().describe();
  ASSERT_EQ(decoded->size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    const CheckpointEntry& a = entries[i];
    const CheckpointEntry& b = (*decoded)[i];
    EXPECT_EQ(a.service, b.service);
    EXPECT_EQ(a.instance, b.instance);
    EXPECT_EQ(a.generation, b.generation);
    EXPECT_EQ(a.child, b.child);
    EXPECT_TRUE(a.same_process(b));
    EXPECT_EQ(a.started_at_s, b.started_at_s);
    EXPECT_EQ(a.rules_state, b.rules_state);
    ASSERT_EQ(a.samples.size(), b.samples.size());
    for (size_t k = 0; k < a.samples.size(); ++k) {
      EXPECT_EQ(a.samples[k].t_s, b.samples[k].t_s);
      EXPECT_EQ(a.samples[k].values.pss, b.samples[k].values.pss);
      EXPECT_EQ(a.samples[k].values.rss, b.samples[k].values.rss);
      EXPECT_EQ(a.samples[k].values.cgroup, b.samples[k].values.cgroup);
    }
  }
  EXPECT_TRUE(decode_checkpoint(encode_checkpoint({})));
}

TEST(Checkpoint, GarbageATornFileAndAnotherVersionAreRefused) {
  const std::string good = encode_checkpoint(sample_entries());
  EXPECT_FALSE(decode_checkpoint(""));
  EXPECT_FALSE(decode_checkpoint("{\"not\": \"a checkpoint\"}"));
  // Every truncation of the file.
  for (size_t n = 0; n < good.size(); n += 1 + n / 64) {
    EXPECT_FALSE(decode_checkpoint(std::string_view(good).substr(0, n))) << n;
  }
  // A flipped bit anywhere.
  std::mt19937_64 random(11);
  for (int i = 0; i < 300; ++i) {
    std::string bad = good;
    const size_t at = std::uniform_int_distribution<size_t>(0, bad.size() - 1)(random);
    bad[at] = static_cast<char>(bad[at] ^ (1 << (i % 8)));
    EXPECT_FALSE(decode_checkpoint(bad)) << at;
  }
  // Random bytes, with and without the right magic.
  for (int i = 0; i < 300; ++i) {
    std::string junk(std::uniform_int_distribution<size_t>(0, 400)(random), '\0');
    for (char& c : junk) c = static_cast<char>(random());
    EXPECT_FALSE(decode_checkpoint(junk));
    EXPECT_FALSE(decode_checkpoint(good.substr(0, 8) + junk));
  }
  std::string old = good;
  old[8] = 0;  // version 0
  auto refused = decode_checkpoint(old);
  ASSERT_FALSE(refused);
  EXPECT_NE(refused.error().message.find("version 0"), std::string::npos);
  // Garbage as a rules state: refused, the rules unchanged.
  const ServiceConfig service = leaky_service();  // ProcessRules keeps a reference to it
  ProcessRules rules(service, 0.5);
  EXPECT_FALSE(rules.restore_state(""));
  EXPECT_FALSE(rules.restore_state(std::string(200, '\x01')));
  const std::string state = sample_entries()[0].rules_state;
  for (size_t n = 0; n < state.size(); n += 1 + n / 16) {
    EXPECT_FALSE(rules.restore_state(state.substr(0, n))) << n;
  }
  EXPECT_EQ(rules.leak_verdicts(), 0u);
}

}  // namespace
}  // namespace memvisor

#pragma GCC diagnostic pop
