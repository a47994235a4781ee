// Recycling without losing capacity: the replacement first, the old process only once the
// replacement is ready; one instance of a service at a time; a failed replacement changes nothing.
#include <gtest/gtest.h>

#include <thread>

#include "harness.h"

namespace memvisor::testing {
namespace {

// Index of the first event matching name and instance label, or -1.
long position(const std::vector<nlohmann::json>& events, const std::string& name,
              const std::string& label, int generation = 0) {
  for (size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    const std::string l = e.value("service", "") + "." + std::to_string(e.value("instance", 0));
    if (e.value("event", "") == name && l == label &&
        (generation == 0 || e.value("generation", 0) == generation)) {
      return static_cast<long>(i);
    }
  }
  return -1;
}

const char* kSlowStarter = "sleep 0.4; systemd-notify --ready; exec sleep 60";

TEST(Recycle, ReplacementIsReadyBeforeTheOldProcessIsStopped) {
  TempDir dir;
  Memvisor memvisor(dir, {"--name", "web", "--instances", "2", "--ready", "notify", "--", "sh",
                          "-c", kSlowStarter});
  ASSERT_EQ(memvisor.wait_events("ready", 2, 10s).size(), 2u) << memvisor.err();
  const pid_t old_pid = memvisor.events("started", "web.1").at(0)["pid"];

  const auto result = run_memvisor({"restart", "web.1", "--state-dir", memvisor.state_dir()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  ASSERT_EQ(memvisor.wait_events("recycled", 1, 10s, "web.1").size(), 1u) << memvisor.err();

  const auto events = memvisor.events();
  const long recycle = position(events, "recycle", "web.1");
  const long started = position(events, "started", "web.1", 2);
  const long ready = position(events, "ready", "web.1", 2);
  const long stopping = position(events, "stopping", "web.1");
  const long exited = position(events, "exited", "web.1");
  ASSERT_GE(recycle, 0);
  EXPECT_TRUE(events[static_cast<size_t>(recycle)]["surge"]);
  EXPECT_LT(recycle, started);
  EXPECT_LT(started, ready);
  EXPECT_LT(ready, stopping) << "the old process was stopped before its replacement was ready";
  EXPECT_LT(stopping, exited);
  EXPECT_EQ(events[static_cast<size_t>(exited)]["pid"], old_pid);
  EXPECT_FALSE(process_alive(old_pid));

  const auto status = memvisor.status();
  ASSERT_EQ(status["instances"].size(), 2u);
  EXPECT_EQ(status["instances"][0]["generation"], 2);
  EXPECT_EQ(status["instances"][0]["restarts"], 1);
  EXPECT_EQ(status["instances"][0]["state"], "running");
  EXPECT_EQ(status["services"][0]["ready"], 2);
}

TEST(Recycle, AWholeServiceRecyclesOneInstanceAtATime) {
  TempDir dir;
  Memvisor memvisor(dir, {"--name", "web", "--instances", "3", "--ready", "notify", "--", "sh",
                          "-c", kSlowStarter});
  ASSERT_EQ(memvisor.wait_events("ready", 3, 10s).size(), 3u) << memvisor.err();
  ASSERT_EQ(run_memvisor({"restart", "web", "--state-dir", memvisor.state_dir()}).exit_code, 0);
  ASSERT_EQ(memvisor.wait_events("recycled", 3, 20s).size(), 3u) << memvisor.err();

  // Never two recycles at once: each starts only after the previous one finished.
  const auto events = memvisor.events();
  int in_flight = 0, most = 0;
  for (const auto& e : events) {
    if (e["event"] == "recycle") most = std::max(most, ++in_flight);
    if (e["event"] == "recycled" || e["event"] == "recycle_failed") --in_flight;
  }
  EXPECT_EQ(most, 1);
  EXPECT_EQ(memvisor.events("recycle_queued").size(), 2u);
  const auto status = memvisor.status();
  for (const auto& instance : status["instances"]) EXPECT_EQ(instance["generation"], 2);
}

TEST(Recycle, AReplacementThatNeverGetsReadyLeavesTheOldProcessServing) {
  TempDir dir;
  // The first generation becomes ready; later ones never do.
  const std::string script = dir.write(
      "w.sh",
      "#!/bin/sh\n[ \"$MEMVISOR_GENERATION\" = 1 ] && systemd-notify --ready\nexec sleep 60\n",
      true);
  Memvisor memvisor(
      dir, {"--name", "web", "--ready", "notify", "--startup-timeout", "500ms", "--", script});
  ASSERT_EQ(memvisor.wait_events("ready", 1, 10s).size(), 1u) << memvisor.err();
  const pid_t old_pid = memvisor.events("started").at(0)["pid"];
  ASSERT_EQ(run_memvisor({"restart", "web.1", "--state-dir", memvisor.state_dir()}).exit_code, 0);
  ASSERT_EQ(memvisor.wait_events("recycle_failed", 1, 10s, "web.1").size(), 1u) << memvisor.err();
  EXPECT_TRUE(process_alive(old_pid));
  std::this_thread::sleep_for(200ms);
  const auto status = memvisor.status();
  ASSERT_EQ(status["instances"].size(), 1u) << status.dump();
  EXPECT_EQ(status["instances"][0]["pid"], old_pid);
  EXPECT_EQ(status["instances"][0]["state"], "running");
}

}  // namespace
}  // namespace memvisor::testing
