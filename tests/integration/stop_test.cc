// Stopping: the signal sequence, its timeouts, grandchildren, and memvisor's own shutdown.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <thread>

#include "harness.h"

namespace memvisor::testing {
namespace {

double seconds_between(const nlohmann::json& from, const nlohmann::json& to) {
  return event_seconds(to) - event_seconds(from);
}

pid_t read_pid(const std::string& path) {
  pid_t pid = 0;
  std::ifstream(path) >> pid;
  return pid;
}

TEST(Stop, WorkerIgnoringSigintAndSigtermIsKilledWithItsGrandchild) {
  TempDir dir;
  const std::string grandchild_file = dir.file("grandchild.pid");
  // Ignored dispositions survive exec, so the grandchild ignores both signals too.
  const std::string script = dir.write("stubborn.sh",
                                       "#!/bin/bash\ntrap '' INT TERM\nsleep 1000 &\necho $! > " +
                                           grandchild_file + "\nwhile :; do sleep 0.05; done\n",
                                       true);
  Memvisor memvisor(dir, {"--name", "stubborn", "--stop-timeout", "400ms", "--kill-timeout",
                          "400ms", "--", script});
  const auto started = memvisor.wait_events("started", 1, 10s, "stubborn.1");
  ASSERT_EQ(started.size(), 1u) << memvisor.err();
  const pid_t worker = started[0]["pid"];
  ASSERT_TRUE(eventually([&] { return read_pid(grandchild_file) > 0; }, 5s));
  const pid_t grandchild = read_pid(grandchild_file);
  ASSERT_TRUE(process_alive(grandchild));

  memvisor.signal(SIGTERM);
  ASSERT_EQ(memvisor.wait(10s), 0) << memvisor.err();
  EXPECT_FALSE(process_alive(worker));
  EXPECT_FALSE(process_alive(grandchild));

  const auto stopping = memvisor.events("stopping", "stubborn.1");
  const auto escalated = memvisor.events("stop_escalated", "stubborn.1");
  const auto exited = memvisor.events("exited", "stubborn.1");
  ASSERT_EQ(stopping.size(), 1u);
  ASSERT_EQ(escalated.size(), 2u);
  ASSERT_EQ(exited.size(), 1u);
  EXPECT_EQ(stopping[0]["signal"], "SIGINT");
  EXPECT_EQ(escalated[0]["signal"], "SIGTERM");
  EXPECT_EQ(escalated[1]["signal"], "SIGKILL");
  EXPECT_EQ(exited[0]["signal"], "SIGKILL");
  const double took = seconds_between(stopping[0], exited[0]);
  EXPECT_GE(took, 0.8 - 0.01);  // it did wait out both timeouts…
  EXPECT_LE(took, 0.8 + 0.5);   // …and not much more
}

TEST(Stop, SigtermToMemvisorLeavesNoProcessBehind) {
  TempDir dir;
  // Each instance has a child in its group and one that escapes into its own session.
  const std::string script =
      dir.write("tree.sh", "#!/bin/sh\nsleep 1000 &\nsetsid sleep 1001 &\nexec sleep 1002\n", true);
  Memvisor memvisor(dir, {"--name", "tree", "--instances", "3", "--", script});
  ASSERT_EQ(memvisor.wait_events("started", 3, 10s).size(), 3u) << memvisor.err();
  std::vector<pid_t> tree;
  ASSERT_TRUE(eventually([&] { return (tree = descendants(memvisor.pid())).size() >= 10; }, 5s))
      << "expected supervisor + 3 × (worker + 2 children), found " << tree.size();

  memvisor.signal(SIGTERM);
  ASSERT_EQ(memvisor.wait(15s), 0) << memvisor.err();
  for (pid_t pid : tree) EXPECT_FALSE(process_alive(pid)) << "pid " << pid << " survived";
}

TEST(Stop, SigintToMemvisorStopsGracefullyWithTheStopSignal) {
  TempDir dir;
  const std::string log = dir.file("got");
  const std::string script = dir.write(
      "polite.sh",
      "#!/bin/bash\ntrap 'echo INT > " + log + "; exit 0' INT\nwhile :; do sleep 0.05; done\n",
      true);
  Memvisor memvisor(dir, {"--name", "polite", "--", script});
  ASSERT_EQ(memvisor.wait_events("started", 1, 10s).size(), 1u);
  std::this_thread::sleep_for(200ms);
  memvisor.signal(SIGINT);
  ASSERT_EQ(memvisor.wait(10s), 0) << memvisor.err();
  EXPECT_EQ(read_text(log), "INT\n");
  const auto exited = memvisor.events("exited", "polite.1");
  ASSERT_EQ(exited.size(), 1u);
  EXPECT_EQ(exited[0]["code"], 0);
  EXPECT_TRUE(memvisor.events("stop_escalated").empty());
}

}  // namespace
}  // namespace memvisor::testing
