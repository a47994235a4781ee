// The supervisor process: it can die without any worker noticing, and it comes back.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <thread>

#include "harness.h"

namespace memvisor::testing {
namespace {

std::vector<int> worker_pids(const nlohmann::json& status) {
  std::vector<int> pids;
  for (const auto& instance : status["instances"]) pids.push_back(instance["pid"]);
  return pids;
}

TEST(Supervisor, KillNineLeavesWorkersAloneAndTheSupervisorComesBack) {
  TempDir dir;
  Memvisor memvisor(dir, {"--name", "web", "--instances", "3", "--", "sleep", "120"});
  ASSERT_EQ(memvisor.wait_events("started", 3, 10s).size(), 3u) << memvisor.err();
  nlohmann::json before;
  ASSERT_TRUE(eventually([&] { return !(before = memvisor.status()).is_null(); }, 10s));
  const int supervisor = before["supervisor_pid"];
  const auto pids = worker_pids(before);
  ASSERT_EQ(pids.size(), 3u);

  ASSERT_EQ(::kill(supervisor, SIGKILL), 0);
  ASSERT_EQ(memvisor.wait_events("supervisor_started", 2, 10s).size(), 2u) << memvisor.err();
  nlohmann::json after;
  ASSERT_TRUE(eventually([&] { return !(after = memvisor.status()).is_null(); }, 10s));
  EXPECT_NE(after["supervisor_pid"], supervisor);
  EXPECT_EQ(worker_pids(after), pids);
  for (int pid : pids) EXPECT_TRUE(process_alive(pid));
  EXPECT_EQ(memvisor.events("started").size(), 3u);  // no worker was restarted
  EXPECT_TRUE(memvisor.events("exited").empty());
  const auto exited = memvisor.events("supervisor_exited");
  ASSERT_EQ(exited.size(), 1u);
  EXPECT_EQ(exited[0]["reason"], "crash");
}

TEST(Supervisor, ASupervisorKilledAfterItWasReadyComesBackAtOnceEveryTime) {
  TempDir dir;
  Memvisor memvisor(dir, {"--name", "web", "--", "sleep", "120"});
  ASSERT_EQ(memvisor.wait_events("supervisor_started", 1, 10s).size(), 1u);
  for (size_t round = 2; round <= 5; ++round) {
    nlohmann::json status;  // it answers: it has been running its rounds
    ASSERT_TRUE(eventually([&] { return !(status = memvisor.status()).is_null(); }, 10s));
    ::kill(status["supervisor_pid"].get<int>(), SIGKILL);
    ASSERT_EQ(memvisor.wait_events("supervisor_started", round, 10s).size(), round);
  }
  // Before, the delay doubled with each kill (100 ms, 200 ms, ... up to 10 s): a fleet killed
  // every few seconds went unwatched for longer and longer.
  const auto exits = memvisor.events("supervisor_exited");
  ASSERT_EQ(exits.size(), 4u);
  for (const auto& exit : exits) EXPECT_EQ(exit["restart_delay_ms"].get<int>(), 0) << exit;
}

TEST(Supervisor, ASupervisorThatDiesBeforeItIsReadyBacksOff) {
  TempDir dir;
  // A directory where the supervisor binds its control socket: every start fails at once.
  const std::string state = dir.file("state");  // the harness gives memvisor this state dir
  ASSERT_EQ(::mkdir(state.c_str(), 0700), 0);
  ASSERT_EQ(::mkdir((state + "/control.sock").c_str(), 0700), 0);
  ASSERT_EQ(::mkdir((state + "/control.sock/keep").c_str(), 0700), 0);
  Memvisor memvisor(dir, {"--name", "web", "--", "sleep", "120"});
  const auto exits = memvisor.wait_events("supervisor_exited", 3, 20s);
  ASSERT_GE(exits.size(), 3u) << memvisor.err();
  EXPECT_GT(exits[0]["restart_delay_ms"].get<int>(), 0);
  EXPECT_LT(exits[0]["restart_delay_ms"].get<int>(), exits[2]["restart_delay_ms"].get<int>());
  EXPECT_EQ(memvisor.events("started").size(), 1u);  // the worker runs on regardless
  // Once the path is usable the supervisor starts and serves.
  ASSERT_EQ(::rmdir((state + "/control.sock/keep").c_str()), 0);
  ASSERT_EQ(::rmdir((state + "/control.sock").c_str()), 0);
  nlohmann::json status;
  EXPECT_TRUE(eventually([&] { return !(status = memvisor.status()).is_null(); }, 20s));
}

}  // namespace
}  // namespace memvisor::testing
