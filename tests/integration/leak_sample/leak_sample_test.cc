// The leak rule's heap sample (`leak = { sample = "4s" }`, `--leak-sample`): the real binary, a
// real native worker leaking from a known function with the real sampler preloaded. The leak
// detector judges 30 s floor windows, so even with a short warm-up (`--leak-warmup 1m`) each test
// waits minutes for the leak: these tests have their own executable and a longer timeout than the
// other integration tests.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <iostream>

#include "harness.h"

namespace memvisor::testing {
namespace {

namespace fs = std::filesystem;

#ifdef MEMVISOR_SANITIZED
#define SKIP_UNDER_SANITIZERS() GTEST_SKIP() << "the heap sampler is not tested under sanitizers"
#else
#define SKIP_UNDER_SANITIZERS() (void)0
#endif

constexpr auto kLeakWait = 600s;  // the detector's verdict (about 3 min), on a busy machine

// A worker leaking `kib_per_second` from leak_known_bytes from its start.
std::vector<std::string> leaking_worker(int kib_per_second) {
  return {SAMPLER_WORKLOAD, "0", "0", "1800", "drip", std::to_string(kib_per_second)};
}

// `args` for a leak rule judging 1 s samples, with a leaking worker.
std::vector<std::string> with_worker(std::vector<std::string> args, int kib_per_second) {
  for (const char* arg :
       {"--name", "web", "--interval", "1s", "--leak", "10MiB/h", "--leak-warmup", "1m"}) {
    args.push_back(arg);
  }
  args.push_back("--");
  for (std::string& arg : leaking_worker(kib_per_second)) args.push_back(std::move(arg));
  return args;
}

// The index in `events` of the first event matching `match`, or events.size().
size_t index_of(const std::vector<nlohmann::json>& events,
                const std::function<bool(const nlohmann::json&)>& match) {
  return static_cast<size_t>(std::find_if(events.begin(), events.end(), match) - events.begin());
}

bool is(const nlohmann::json& event, const std::string& name, const std::string& state = "") {
  return event.value("event", "") == name && event.value("service", "") == "web" &&
         event.value("instance", 0) == 1 && (state.empty() || event.value("state", "") == state);
}

TEST(LeakSample, TheSampleComesBeforeTheRecycleAndNamesTheLeakingFunction) {
  SKIP_UNDER_SANITIZERS();
  TempDir dir;
  Memvisor memvisor(dir, with_worker({"--leak-sample", "4s", "--heap-sampler"}, 400));
  const auto started = memvisor.wait_events("heap_sample", 1, kLeakWait, "web.1");
  ASSERT_EQ(started.size(), 1u) << memvisor.err();
  EXPECT_EQ(started[0]["state"], "started");
  EXPECT_EQ(started[0]["duration_ms"], 4000);

  // The supervisor answers during the window: the answer comes before the sample is written.
  const auto asked = std::chrono::steady_clock::now();
  const nlohmann::json status = memvisor.status();
  std::cout << "status answered in "
            << std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - asked)
                   .count()
            << " ms during the 4 s window\n";
  const auto samples_by_then = memvisor.events("heap_sample", "web.1");
  ASSERT_TRUE(status.is_object()) << memvisor.err();
  EXPECT_EQ(samples_by_then.size(), 1u) << "the sample ended before status answered";
  for (const auto& record : status["instances"]) {
    if (record["instance"] == 1) {
      EXPECT_EQ(record["generation"], 1);
    }
  }

  const auto samples = memvisor.wait_events("heap_sample", 2, 120s, "web.1");
  ASSERT_EQ(samples.size(), 2u) << memvisor.err();
  ASSERT_EQ(samples[1]["state"], "written") << samples[1].dump();
  const std::string report_path = samples[1]["path"];
  const auto report = nlohmann::json::parse(read_text(report_path), nullptr, false);
  ASSERT_TRUE(report.is_object()) << report_path;
  ASSERT_FALSE(report["by_function"].empty());
  EXPECT_EQ(report["by_function"][0]["function"], "leak_known_bytes") << report.dump(2);
  EXPECT_GT(report["total_retained"]["samples"].get<int>(), 0);

  // The bundle holds it and says so; then the instance is recycled (generation 2).
  const std::string bundle = fs::path(report_path).parent_path();
  EXPECT_EQ(fs::path(bundle).filename(), started[0]["incident"].get<std::string>());
  const std::string summary = read_text(bundle + "/summary.txt");
  EXPECT_NE(summary.find("heap:       heap_sample.json: a 4s window on pid " +
                         std::to_string(started[0].value("pid", 0)) + ", native, one sample per "),
            std::string::npos)
      << summary;
  // The operator reads the leaking function in the summary, without opening the report.
  EXPECT_NE(summary.find("; top function leak_known_bytes ~"), std::string::npos) << summary;
  EXPECT_NE(summary.find("(after the heap sample)"), std::string::npos) << summary;
  ASSERT_EQ(memvisor.wait_events("recycled", 1, 120s, "web.1").size(), 1u) << memvisor.err();
  EXPECT_EQ(memvisor.events("recycled", "web.1").at(0)["generation"], 2);

  const auto events = memvisor.events();
  const size_t rule = index_of(
      events, [](const auto& e) { return is(e, "rule") && e.value("rule", "") == "leak"; });
  const size_t sample_started =
      index_of(events, [](const auto& e) { return is(e, "heap_sample", "started"); });
  const size_t sample_written =
      index_of(events, [](const auto& e) { return is(e, "heap_sample", "written"); });
  const size_t incident = index_of(events, [](const auto& e) { return is(e, "incident"); });
  const size_t recycle = index_of(events, [](const auto& e) { return is(e, "recycle"); });
  EXPECT_LT(rule, sample_started);
  EXPECT_LT(sample_started, sample_written);
  EXPECT_LT(sample_written, incident);
  EXPECT_LT(incident, recycle) << "the recycle came before the bundle";
  ASSERT_LT(recycle, events.size());
  EXPECT_EQ(events[recycle]["reason"], "leak");
  EXPECT_EQ(memvisor.events("rule", "web.1").size(), 1u) << "the leak fired twice";
}

TEST(LeakSample, WithoutTheSamplerTheRecycleDoesNotWaitAndTheBundleSaysWhy) {
  TempDir dir;
  Memvisor memvisor(dir, with_worker({"--leak-sample", "60s"}, 400));
  const auto rules = memvisor.wait_events("rule", 1, kLeakWait, "web.1");
  ASSERT_EQ(rules.size(), 1u) << memvisor.err();
  ASSERT_EQ(rules[0]["rule"], "leak");
  // Well within the 60 s window it would wait with a sampler.
  ASSERT_EQ(memvisor.wait_events("recycle", 1, 30s, "web.1").size(), 1u) << memvisor.err();

  const auto samples = memvisor.events("heap_sample", "web.1");
  ASSERT_EQ(samples.size(), 1u);
  EXPECT_EQ(samples[0]["state"], "none");
  EXPECT_EQ(samples[0]["error"], "heap_sampler is off for this service");
  const auto incidents = memvisor.events("incident", "web.1");
  ASSERT_EQ(incidents.size(), 1u);
  const std::string bundle = incidents[0]["path"];
  EXPECT_NE(read_text(bundle + "/summary.txt")
                .find("heap:       none: heap_sampler is off for this service\n"),
            std::string::npos)
      << read_text(bundle + "/summary.txt");
  EXPECT_FALSE(fs::exists(bundle + "/heap_sample.json"));
  ASSERT_EQ(memvisor.wait_events("recycled", 1, 60s, "web.1").size(), 1u) << memvisor.err();
}

TEST(LeakSample, CriticalDuringTheWindowStopsAtOnce) {
  SKIP_UNDER_SANITIZERS();
  TempDir dir;
  // The worker leaks slowly enough to stay far below critical until it is told to jump above.
  Memvisor memvisor(
      dir, with_worker({"--leak-sample", "20s", "--heap-sampler", "--critical", "250MiB"}, 200));
  const auto started = memvisor.wait_events("heap_sample", 1, kLeakWait, "web.1");
  ASSERT_EQ(started.size(), 1u) << memvisor.err();
  ASSERT_EQ(started[0]["state"], "started");
  const int pid = started[0]["pid"];
  const auto cue = std::chrono::steady_clock::now();
  ASSERT_EQ(::kill(pid, SIGUSR1), 0);  // it takes 256 MiB at once

  ASSERT_TRUE(eventually([&] { return !process_alive(pid); }, 60s)) << memvisor.err();
  const auto stopped_after = std::chrono::steady_clock::now() - cue;
  // The window would have lasted 20 s; the stop takes a sample or two, the 2 s stack budget and
  // the grace period of a worker that exits on SIGINT.
  EXPECT_LT(stopped_after, 12s);
  std::cout << "stopped "
            << std::chrono::duration_cast<std::chrono::milliseconds>(stopped_after).count()
            << " ms after the cue, in a 20 s window\n";
  const auto critical = memvisor.events("rule", "web.1");
  ASSERT_EQ(critical.size(), 2u);
  EXPECT_EQ(critical[1]["rule"], "critical");

  // The leak's bundle is written without a sample and the leak asks for no recycle of its own.
  const auto samples = memvisor.wait_events("heap_sample", 2, 30s, "web.1");
  ASSERT_EQ(samples.size(), 2u);
  EXPECT_EQ(samples[1]["state"], "none");
  EXPECT_EQ(samples[1]["error"], "cut short: the critical rule acted during the window");
  const std::string leak_bundle =
      memvisor.state_dir() + "/incidents/" + started[0]["incident"].get<std::string>();
  EXPECT_TRUE(eventually([&] { return fs::exists(leak_bundle + "/summary.txt"); }, 30s));
  EXPECT_NE(read_text(leak_bundle + "/summary.txt")
                .find("not recycled by the leak rule: the critical rule acted during the window"),
            std::string::npos)
      << read_text(leak_bundle + "/summary.txt");
  for (const auto& e : memvisor.events("recycle", "web.1")) EXPECT_NE(e["reason"], "leak");
  // The sample cut short leaves nothing of the stopped worker behind: no raw file, no control
  // page (removed when the controller reaps it).
  const auto leftovers = [&] {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(memvisor.state_dir() + "/sampler")) {
      const std::string name = entry.path().filename().string();
      if (name.rfind(std::to_string(pid) + ".", 0) == 0) names.push_back(name);
    }
    return names;
  };
  EXPECT_TRUE(eventually([&] { return leftovers().empty(); }, 10s)) << leftovers().front();
}

}  // namespace
}  // namespace memvisor::testing
