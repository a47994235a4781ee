// Readiness through systemd's notify protocol, with Debian's real systemd-notify as the peer;
// startup timeout and watchdog restarts.
#include <gtest/gtest.h>

#include <filesystem>
#include <thread>

#include "harness.h"

namespace memvisor::testing {
namespace {

TEST(Readiness, SystemdNotifyReadyFromAWorkerScript) {
  TempDir dir;
  const std::string script = dir.write("notify.sh",
                                       "#!/bin/sh\nsleep 0.3\n"
                                       "systemd-notify --status='warming up'\n"
                                       "systemd-notify --ready\nexec sleep 60\n",
                                       true);
  Memvisor memvisor(dir, {"--name", "web", "--ready", "notify", "--", script});
  const auto ready = memvisor.wait_events("ready", 1, 10s, "web.1");
  ASSERT_EQ(ready.size(), 1u) << memvisor.err();
  EXPECT_EQ(ready[0]["reason"], "notify");
  EXPECT_GE(ready[0]["startup_ms"].get<int>(), 250);
  const auto status = memvisor.status();
  ASSERT_FALSE(status.is_null());
  EXPECT_EQ(status["instances"][0]["state"], "running");
  EXPECT_EQ(status["instances"][0]["status"], "warming up");
  EXPECT_EQ(status["services"][0]["ready"], 1);
}

TEST(Readiness, NotReadyBeforeStartupTimeoutIsRestarted) {
  TempDir dir;
  Memvisor memvisor(dir, {"--name", "slow", "--ready", "notify", "--startup-timeout", "400ms",
                          "--restart-delay", "50ms", "--", "sleep", "60"});
  const auto timeouts = memvisor.wait_events("startup_timeout", 1, 10s, "slow.1");
  ASSERT_EQ(timeouts.size(), 1u) << memvisor.err();
  ASSERT_EQ(memvisor.wait_events("started", 2, 10s, "slow.1").size(), 2u);
  const auto exited = memvisor.events("exited", "slow.1");
  ASSERT_GE(exited.size(), 1u);
  EXPECT_EQ(exited[0]["reason"], "startup_timeout");
  // Still starting: it never reported ready.
  EXPECT_TRUE(memvisor.events("ready", "slow.1").empty());
}

TEST(Readiness, MissedWatchdogIsRestartedWithReasonWatchdog) {
  TempDir dir;
  const std::string script =
      dir.write("once.sh", "#!/bin/sh\nsystemd-notify --ready\nexec sleep 60\n", true);
  Memvisor memvisor(dir, {"--name", "dog", "--ready", "notify", "--watchdog", "500ms",
                          "--restart-delay", "50ms", "--", script});
  const auto timeouts = memvisor.wait_events("watchdog_timeout", 1, 10s, "dog.1");
  ASSERT_EQ(timeouts.size(), 1u) << memvisor.err();
  ASSERT_EQ(memvisor.wait_events("started", 2, 10s, "dog.1").size(), 2u);
  const auto exited = memvisor.events("exited", "dog.1");
  ASSERT_GE(exited.size(), 1u);
  EXPECT_EQ(exited[0]["reason"], "watchdog");
  // A hung worker's bundle: its series, /proc and its thread stacks as the stop began.
  const auto incidents = memvisor.wait_events("incident", 1, 20s, "dog.1");
  ASSERT_EQ(incidents.size(), 1u) << memvisor.err();
  EXPECT_EQ(incidents[0].value("reason", ""), "watchdog");
  EXPECT_EQ(incidents[0].value("pid", 0), timeouts[0].value("pid", 0));
  const std::string bundle = incidents[0].value("path", "");
  const std::string summary = read_text(bundle + "/summary.txt");
  EXPECT_NE(summary.find("rule:       none: the worker missed its watchdog (hung)"),
            std::string::npos)
      << summary;
  EXPECT_NE(summary.find("no WATCHDOG=1 for 500ms"), std::string::npos) << summary;
  EXPECT_TRUE(std::filesystem::exists(bundle + "/stacks.txt"));
}

TEST(Readiness, WatchdogPingsKeepAWorkerAlive) {
  TempDir dir;
  // WATCHDOG_USEC tells the worker the interval, as systemd does.
  const std::string script = dir.write("pinger.sh",
                                       "#!/bin/sh\n[ \"$WATCHDOG_USEC\" = 1500000 ] || exit 9\n"
                                       "systemd-notify --ready\n"
                                       "while :; do systemd-notify WATCHDOG=1; sleep 0.1; done\n",
                                       true);
  // Pings every 100 ms against a 1.5 s watchdog: slack for a loaded machine, and still more
  // than two whole watchdog periods are watched.
  Memvisor memvisor(dir,
                    {"--name", "dog", "--ready", "notify", "--watchdog", "1500ms", "--", script});
  ASSERT_EQ(memvisor.wait_events("ready", 1, 10s, "dog.1").size(), 1u) << memvisor.err();
  std::this_thread::sleep_for(3500ms);
  EXPECT_TRUE(memvisor.events("watchdog_timeout").empty()) << memvisor.err();
  EXPECT_EQ(memvisor.events("started").size(), 1u);
}

TEST(Readiness, NotifyFromOutsideTheInstanceTreeIsIgnored) {
  TempDir dir;
  Memvisor memvisor(
      dir, {"--name", "web", "--ready", "notify", "--startup-timeout", "30s", "--", "sleep", "60"});
  ASSERT_EQ(memvisor.wait_events("started", 1, 10s, "web.1").size(), 1u);
  // A live process that is not in web.1's tree (this test) cannot make it ready, even through
  // the right socket.
  const std::string socket = memvisor.state_dir() + "/notify/web.1.1";  // instance 1, generation 1
  const std::string probe = dir.write(
      "probe.sh",
      "#!/bin/sh\nNOTIFY_SOCKET=" + socket + " systemd-notify --ready --pid=$$ ; sleep 1\n", true);
  std::system(probe.c_str());
  std::this_thread::sleep_for(300ms);
  EXPECT_TRUE(memvisor.events("ready", "web.1").empty());
  EXPECT_NE(memvisor.err().find("not in the instance's process tree"), std::string::npos)
      << memvisor.err();
}

// The notify directory removed under memvisor (by hand, or a state dir mounted again without
// it): the next start makes it again, and its worker gets ready through a socket file there.
TEST(Readiness, ANotifyDirectoryRemovedIsMadeAgainAtTheNextStart) {
  TempDir dir;
  const std::string script =
      dir.write("notify.sh", "#!/bin/sh\nsystemd-notify --ready\nexec sleep 60\n", true);
  Memvisor memvisor(dir, {"--name", "web", "--ready", "notify", "--", script});
  ASSERT_EQ(memvisor.wait_events("ready", 1, 10s, "web.1").size(), 1u) << memvisor.err();
  const std::string notify_dir = memvisor.state_dir() + "/notify";
  std::filesystem::remove_all(notify_dir);
  ASSERT_EQ(run_memvisor({"restart", "web.1", "--state-dir", memvisor.state_dir()}).exit_code, 0);
  ASSERT_EQ(memvisor.wait_events("recycled", 1, 10s, "web.1").size(), 1u) << memvisor.err();
  EXPECT_TRUE(memvisor.events("spawn_failed").empty()) << memvisor.err();
  EXPECT_TRUE(std::filesystem::exists(notify_dir + "/web.1.2")) << memvisor.err();
  EXPECT_EQ(std::filesystem::status(notify_dir).permissions() & std::filesystem::perms::all,
            std::filesystem::perms(0711));
}

}  // namespace
}  // namespace memvisor::testing
