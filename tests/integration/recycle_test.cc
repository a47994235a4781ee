// Recycling without losing capacity: the replacement first, the old process only once the
// replacement is ready; one instance of a service at a time; a failed replacement changes nothing.
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "harness.h"

namespace memvisor::testing {
namespace {

namespace fs = std::filesystem;

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

// A restart asked while the instance is recycling (its replacement started before the request,
// perhaps before new code was deployed) is one more recycle once that one is over; it was
// dropped, and the instance went on running the process started before the request.
TEST(Recycle, ARestartDuringARecycleRecyclesOnceMoreAfterIt) {
  TempDir dir;
  // Ready after 0.4 s; a stop takes 1 s (a drain).
  Memvisor memvisor(
      dir, {"--name", "web", "--ready", "notify", "--stop-signal", "SIGTERM", "--", "sh", "-c",
            "trap 'sleep 1; exit 0' TERM; sleep 0.4; systemd-notify --ready; "
            "while :; do sleep 0.1; done"});
  ASSERT_EQ(memvisor.wait_events("ready", 1, 10s).size(), 1u) << memvisor.err();
  const auto restart = [&] {
    return run_memvisor({"restart", "web.1", "--state-dir", memvisor.state_dir()}).exit_code;
  };
  // While the replacement starts.
  ASSERT_EQ(restart(), 0);
  ASSERT_EQ(memvisor.wait_events("recycle", 1, 10s, "web.1").size(), 1u) << memvisor.err();
  ASSERT_EQ(restart(), 0);
  ASSERT_EQ(memvisor.wait_events("recycle_queued", 1, 10s, "web.1").size(), 1u) << memvisor.err();
  ASSERT_EQ(memvisor.wait_events("recycled", 2, 20s, "web.1").size(), 2u) << memvisor.err();
  // While the old process drains.
  ASSERT_EQ(restart(), 0);
  ASSERT_EQ(memvisor.wait_events("stopping", 3, 20s, "web.1").size(), 3u) << memvisor.err();
  ASSERT_EQ(restart(), 0);
  ASSERT_EQ(memvisor.wait_events("recycled", 4, 30s, "web.1").size(), 4u) << memvisor.err();
  EXPECT_EQ(memvisor.events("recycle_queued", "web.1").size(), 2u);
  EXPECT_TRUE(eventually([&] { return memvisor.status()["instances"][0]["generation"] == 5; }, 10s))
      << memvisor.status().dump();
}

// A replacement that was ready, and died while the old process drained: the old one cannot be
// kept, so once it has exited the instance starts again. It stayed stopped, for good.
TEST(Recycle, AReplacementThatDiesWhileTheOldOneDrainsIsFollowedByANewProcess) {
  TempDir dir;
  Memvisor memvisor(
      dir, {"--name", "web", "--ready", "notify", "--stop-signal", "SIGTERM", "--", "sh", "-c",
            "if [ \"$MEMVISOR_GENERATION\" = 2 ]; then systemd-notify --ready; sleep 0.3; exit 1; "
            "fi; trap 'sleep 1; exit 0' TERM; systemd-notify --ready; "
            "while :; do sleep 0.1; done"});
  ASSERT_EQ(memvisor.wait_events("ready", 1, 10s).size(), 1u) << memvisor.err();
  ASSERT_EQ(run_memvisor({"restart", "web.1", "--state-dir", memvisor.state_dir()}).exit_code, 0);
  const auto failed = memvisor.wait_events("recycle_failed", 1, 20s, "web.1");
  ASSERT_EQ(failed.size(), 1u) << memvisor.err();
  EXPECT_NE(failed[0]["message"].get<std::string>().find("was stopping"), std::string::npos)
      << failed[0].dump();
  EXPECT_TRUE(eventually(
      [&] {
        const auto status = memvisor.status();
        return status["instances"][0]["state"] == "running" &&
               status["instances"][0]["generation"] == 3;
      },
      20s))
      << memvisor.status().dump() << memvisor.err();
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

// A replacement that cannot start at all (here its command lost its execute bit): the old
// process keeps serving and stays watched, the rule asks again after a pause that grows as a
// crash's restart delay does (not on every sample), and once the command can run again the
// recycle goes through.
TEST(Recycle, AReplacementThatCannotStartIsTriedAgainAfterAPause) {
  TempDir dir;
  const std::string hog =
      dir.write("hog.py", "import time\nhog = bytearray(b'x' * (60 << 20))\ntime.sleep(600)\n");
  const std::string script = dir.write("hog.sh", "#!/bin/sh\nexec python3 -S " + hog + "\n", true);
  const std::string config =
      dir.write("hog.toml", "[service.hog]\ncommand = [\"" + script +
                                "\"]\ninterval = \"100ms\"\nlimit = \"40MiB\"\nrestart_delay = "
                                "\"500ms\"\n");
  Memvisor memvisor(dir, {config});
  ASSERT_EQ(memvisor.wait_events("recycled", 1, 20s, "hog.1").size(), 1u) << memvisor.err();
  const nlohmann::json recycled = memvisor.events("recycled", "hog.1").at(0);

  fs::permissions(script, fs::perms::owner_exec | fs::perms::group_exec | fs::perms::others_exec,
                  fs::perm_options::remove);
  const auto failed = memvisor.wait_events("recycle_failed", 3, 20s, "hog.1");
  ASSERT_EQ(failed.size(), 3u) << "the rule stopped asking after a recycle failed\n"
                               << memvisor.err();
  // Paced: 500 ms, then 1 s (the sample interval is 100 ms, the limit needs 3 samples).
  EXPECT_GE(event_seconds(failed[1]) - event_seconds(failed[0]), 0.45);
  EXPECT_GE(event_seconds(failed[2]) - event_seconds(failed[1]), 0.95);
  // The old process served throughout.
  const pid_t serving = recycled.value("pid", 0);
  for (const auto& e : failed) EXPECT_EQ(e.value("pid", 0), serving) << e.dump();
  EXPECT_TRUE(process_alive(serving));

  fs::permissions(script, fs::perms::owner_exec, fs::perm_options::add);
  ASSERT_EQ(memvisor.wait_events("recycled", 2, 30s, "hog.1").size(), 2u) << memvisor.err();
  EXPECT_EQ(memvisor.events("recycled", "hog.1").at(1).value("old_pid", 0), serving);
}

}  // namespace
}  // namespace memvisor::testing
