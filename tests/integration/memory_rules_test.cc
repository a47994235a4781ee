// The memory rules on real processes: a Python worker that grows 5 MiB every 100 ms.
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "harness.h"

namespace memvisor::testing {
namespace {

TEST(MemoryRules, WarnOnceThenLimitRecyclesWithASurge) {
  TempDir dir;
  const std::string worker = dir.write("grow.py", kGrowingPython);
  Memvisor memvisor(dir, {"--name", "grow", "--interval", "100ms", "--warn", "40MiB", "--limit",
                          "80MiB", "--limit-for", "2", "--", "python3", worker});
  const auto limits = memvisor.wait_events("rule", 2, 20s, "grow.1");
  ASSERT_GE(limits.size(), 2u) << memvisor.err();
  EXPECT_EQ(limits[0]["rule"], "warn");
  EXPECT_EQ(limits[0]["metric"], "pss");
  EXPECT_GT(limits[0]["value"].get<double>(), 40.0 * (1 << 20));
  EXPECT_EQ(limits[0]["threshold"].get<double>(), 40.0 * (1 << 20));
  EXPECT_EQ(limits[1]["rule"], "limit");
  EXPECT_EQ(limits[1]["action"], "recycle");
  ASSERT_EQ(memvisor.wait_events("recycled", 1, 20s, "grow.1").size(), 1u) << memvisor.err();
  const auto recycle = memvisor.events("recycle", "grow.1");
  ASSERT_GE(recycle.size(), 1u);
  EXPECT_EQ(recycle[0]["reason"], "limit");
  EXPECT_TRUE(recycle[0]["surge"]);
  // One warn per process lifetime: the first generation warned exactly once.
  int warns_gen1 = 0;
  for (const auto& e : memvisor.events("rule", "grow.1")) {
    warns_gen1 += e["rule"] == "warn" && e["generation"] == 1;
  }
  EXPECT_EQ(warns_gen1, 1);
}

TEST(MemoryRules, CriticalStopsAtOnceAndWritesACrashReport) {
  TempDir dir;
  const std::string worker = dir.write("grow.py", kGrowingPython);
  Memvisor memvisor(dir, {"--name", "grow", "--interval", "100ms", "--critical", "60MiB", "--",
                          "python3", worker});
  const auto rules = memvisor.wait_events("rule", 1, 20s, "grow.1");
  ASSERT_EQ(rules.size(), 1u) << memvisor.err();
  EXPECT_EQ(rules[0]["rule"], "critical");
  ASSERT_EQ(memvisor.wait_events("exited", 1, 20s, "grow.1").size(), 1u) << memvisor.err();
  // No surge: the replacement starts only after the critical process is gone.
  EXPECT_EQ(memvisor.events("exited", "grow.1").at(0)["reason"], "critical");
  // The replacement starts (after the stop).
  ASSERT_GE(memvisor.wait_events("started", 2, 20s, "grow.1").size(), 2u) << memvisor.err();
  bool exited = false;
  for (const auto& e : memvisor.events()) {
    if (e["event"] == "exited") exited = true;
    if (e["event"] == "started" && e["generation"] == 2) {
      EXPECT_TRUE(exited) << "started before the stop";
    }
  }

  const std::string report = rules[0]["report"];
  ASSERT_TRUE(std::filesystem::exists(report)) << report;
  EXPECT_NE(report.find("/incidents/memvisor-crash-"), std::string::npos);
  EXPECT_NE(report.find("-grow.1.json"), std::string::npos);
  const auto json = nlohmann::json::parse(read_text(report));
  EXPECT_EQ(json["rule"]["rule"], "critical");
  EXPECT_GT(json["memory"]["pss"].get<double>(), 60.0 * (1 << 20));
  EXPECT_GE(json["samples"].size(), 1u);
  EXPECT_NE(json["process"]["status"].get<std::string>().find("VmRSS"), std::string::npos);
  EXPECT_NE(json["process"]["cmdline"].get<std::string>().find("grow.py"), std::string::npos);
  const std::string summary = report.substr(0, report.size() - 5) + "-summary.txt";
  EXPECT_NE(read_text(summary).find("critical = 60 MiB (pss)"), std::string::npos)
      << read_text(summary);
  // Written atomically: no temp files left beside them.
  for (const auto& entry :
       std::filesystem::directory_iterator(memvisor.state_dir() + "/incidents")) {
    EXPECT_EQ(entry.path().string().find(".tmp"), std::string::npos) << entry.path();
  }
}

// A worker that reaches critical within seconds of every start is a failed run each time: it is
// restarted after the restart delay, with backoff, and the crash-loop circuit opens, as for a
// crash. (It was restarted at once, forever: a restart and an incident bundle a second, the
// first bundles soon deleted by incidents_keep.)
TEST(MemoryRules, CriticalSoonAfterEveryStartBacksOffAndOpensTheCircuit) {
  TempDir dir;
  const std::string worker = dir.write("grow.py", kGrowingPython);
  const std::string config =
      dir.write("grow.toml", "[service.grow]\ncommand = [\"python3\", \"" + worker +
                                 "\"]\ninterval = \"100ms\"\ncritical = \"60MiB\"\nrestart_delay = "
                                 "\"200ms\"\ncircuit_failures = 3\ncircuit_cooldown = \"10m\"\n");
  Memvisor memvisor(dir, {config});
  const auto open = memvisor.wait_events("circuit_open", 1, 40s, "grow.1");
  ASSERT_EQ(open.size(), 1u) << memvisor.err();
  EXPECT_EQ(open[0]["reason"], "critical");
  const auto backoffs = memvisor.events("backoff", "grow.1");
  ASSERT_EQ(backoffs.size(), 2u);
  EXPECT_EQ(backoffs[0]["reason"], "critical");
  EXPECT_EQ(backoffs[0]["delay_ms"], 200);
  EXPECT_EQ(backoffs[1]["delay_ms"], 400);
  // Behind the open circuit nothing starts again within the cool-down.
  const size_t starts = memvisor.events("started", "grow.1").size();
  EXPECT_EQ(starts, 3u);
  std::this_thread::sleep_for(3s);
  EXPECT_EQ(memvisor.events("started", "grow.1").size(), starts);
}

TEST(MemoryRules, TotalRecyclesTheLargestInstance) {
  TempDir dir;
  // Instance 2 grows to ~100 MiB and stops there; instance 1 stays small.
  const std::string worker =
      dir.write("w.py",
                "import os, time\nn = 20 if os.environ['MEMVISOR_INSTANCE'] == '2' else 0\n"
                "hog = [bytearray(5 << 20) for _ in range(n)]\nwhile True: time.sleep(1)\n");
  Memvisor memvisor(dir, {"--name", "pool", "--instances", "2", "--interval", "100ms", "--total",
                          "90MiB", "--", "python3", worker});
  const auto rules = memvisor.wait_events("rule", 1, 20s);
  ASSERT_GE(rules.size(), 1u) << memvisor.err();
  EXPECT_EQ(rules[0]["rule"], "total");
  EXPECT_EQ(rules[0]["instance"], 2);
  EXPECT_GT(rules[0]["value"].get<double>(), 90.0 * (1 << 20));
  ASSERT_EQ(memvisor.wait_events("recycled", 1, 20s, "pool.2").size(), 1u) << memvisor.err();
  EXPECT_TRUE(memvisor.events("recycle", "pool.1").empty());
}

TEST(MemoryRules, StatusShowsMemory) {
  TempDir dir;
  Memvisor memvisor(dir, {"--name", "web", "--interval", "100ms", "--", "sleep", "60"});
  nlohmann::json status;
  ASSERT_TRUE(eventually(
      [&] {
        status = memvisor.status();
        return !status.is_null() && status["instances"][0]["memory"].is_object();
      },
      10s));
  EXPECT_GT(status["instances"][0]["memory"]["rss"].get<double>(), 0);
  EXPECT_GT(status["instances"][0]["memory"]["pss"].get<double>(), 0);
}

}  // namespace
}  // namespace memvisor::testing

namespace memvisor::testing {
namespace {

TEST(MemoryRules, CgroupMetricReadsTheProcessCgroup) {
  const bool v1 = std::filesystem::exists("/sys/fs/cgroup/memory/memory.usage_in_bytes");
  const bool v2 =
      read_text("/sys/fs/cgroup/cgroup.controllers").find("memory") != std::string::npos;
  if (!v1 && !v2) GTEST_SKIP() << "no memory cgroup controller on this machine";
  TempDir dir;
  Memvisor memvisor(dir, {"--name", "cg", "--interval", "100ms", "--metric", "cgroup", "--warn",
                          "1MiB", "--", "sleep", "60"});
  const auto rules = memvisor.wait_events("rule", 1, 10s, "cg.1");
  ASSERT_EQ(rules.size(), 1u) << memvisor.err();
  EXPECT_EQ(rules[0]["metric"], "cgroup");
  EXPECT_GT(rules[0]["value"].get<double>(), 1024.0 * 1024);
}

}  // namespace
}  // namespace memvisor::testing
