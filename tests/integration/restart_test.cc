// Restart behaviour of the real binary: restart after a crash, growing and capped backoff, the
// crash-loop circuit, and a command that does not exist.
#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "harness.h"
#include "http_client.h"

namespace memvisor::testing {
namespace {

TEST(Restart, CrashedWorkerIsRestartedWithANewPid) {
  TempDir dir;
  Memvisor memvisor(dir, {"--name", "web", "--restart-delay", "100ms", "--", "sleep", "60"});
  auto started = memvisor.wait_events("started", 1, 10s, "web.1");
  ASSERT_EQ(started.size(), 1u) << memvisor.err();
  const pid_t first = started[0]["pid"];
  ASSERT_TRUE(process_alive(first));

  ::kill(first, SIGKILL);
  started = memvisor.wait_events("started", 2, 10s, "web.1");
  ASSERT_EQ(started.size(), 2u) << memvisor.err();
  const pid_t second = started[1]["pid"];
  EXPECT_NE(second, first);
  EXPECT_TRUE(process_alive(second));

  const auto exited = memvisor.events("exited", "web.1");
  ASSERT_GE(exited.size(), 1u);
  EXPECT_EQ(exited[0]["signal"], "SIGKILL");
  EXPECT_EQ(exited[0]["reason"], "crash");
  EXPECT_EQ(exited[0]["pid"], first);
  EXPECT_EQ(started[1]["generation"], 2);
}

std::vector<int64_t> delays_of(const std::vector<nlohmann::json>& events) {
  std::vector<int64_t> delays;
  for (const auto& event : events) delays.push_back(event["delay_ms"]);
  return delays;
}

TEST(Restart, BackoffGrowsByTheFactorAndIsCapped) {
  TempDir dir;
  Memvisor memvisor(dir, {"--name", "flaky", "--restart-delay", "100ms", "--restart-backoff", "2",
                          "--restart-delay-max", "400ms", "--circuit-failures", "100", "--", "sh",
                          "-c", "exit 1"});
  const auto backoffs = memvisor.wait_events("backoff", 6, 15s, "flaky.1");
  ASSERT_GE(backoffs.size(), 6u) << memvisor.err();
  const auto delays = delays_of(backoffs);
  EXPECT_EQ(std::vector<int64_t>(delays.begin(), delays.begin() + 6),
            (std::vector<int64_t>{100, 200, 400, 400, 400, 400}));
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ(backoffs[i]["consecutive_failures"], i + 1);

  // The waits really happen: each start comes at least the announced delay after its backoff.
  const auto started = memvisor.events("started", "flaky.1");
  ASSERT_GE(started.size(), 6u);
  const auto exited = memvisor.events("exited", "flaky.1");
  EXPECT_EQ(exited[0]["code"], 1);
}

TEST(Restart, CrashLoopOpensTheCircuitAndBoundsTheSpawns) {
  TempDir dir;
  Memvisor memvisor(dir, {"--name", "loop", "--restart-delay", "10ms", "--circuit-failures", "3",
                          "--circuit-cooldown", "1500ms", "--", "sh", "-c", "exit 1"});
  const auto opened = memvisor.wait_events("circuit_open", 1, 10s, "loop.1");
  ASSERT_EQ(opened.size(), 1u) << memvisor.err();
  EXPECT_EQ(opened[0]["consecutive_failures"], 3);
  EXPECT_EQ(memvisor.events("started", "loop.1").size(), 3u);

  // While open: no spawns at all for the cool-down.
  std::this_thread::sleep_for(1000ms);
  EXPECT_EQ(memvisor.events("started", "loop.1").size(), 3u);

  // After the cool-down, exactly one half-open try, which fails and re-opens at once.
  ASSERT_EQ(memvisor.wait_events("circuit_open", 2, 5s, "loop.1").size(), 2u);
  EXPECT_EQ(memvisor.events("circuit_half_open", "loop.1").size(), 1u);
  EXPECT_EQ(memvisor.events("started", "loop.1").size(), 4u);
  const auto status = memvisor.status();
  ASSERT_FALSE(status.is_null());
  EXPECT_EQ(status["instances"][0]["state"], "crash-loop");
  EXPECT_EQ(status["instances"][0]["circuit"], "open");
}

// A worker that fails at once until `marker` exists, then runs.
std::string fails_until(const TempDir& dir, const std::string& marker) {
  return dir.write("worker.sh", "#!/bin/sh\n[ -f " + marker + " ] && exec sleep 60\nexit 1\n",
                   true);
}

TEST(Restart, HalfOpenTryThatSurvivesClosesTheCircuit) {
  TempDir dir;
  // Fails twice (opening the circuit), then keeps running once a marker file exists.
  const std::string marker = dir.file("healed");
  const std::string script = fails_until(dir, marker);
  Memvisor memvisor(dir, {"--name", "w", "--restart-delay", "10ms", "--circuit-failures", "2",
                          "--circuit-cooldown", "500ms", "--min-uptime", "300ms", "--", script});
  ASSERT_EQ(memvisor.wait_events("circuit_open", 1, 10s, "w.1").size(), 1u) << memvisor.err();
  std::ofstream(marker) << "ok";
  ASSERT_EQ(memvisor.wait_events("circuit_closed", 1, 10s, "w.1").size(), 1u) << memvisor.err();
  const auto status = memvisor.status();
  EXPECT_EQ(status["instances"][0]["state"], "running");
  EXPECT_EQ(status["instances"][0]["circuit"], "closed");
}

// The runbook for a crash loop: fix the cause, then `memvisor restart web.2` to try at once,
// not at the end of the cool-down (it did nothing: "restarting", exit 0, still crash-loop).
TEST(Restart, AnOperatorsRestartTriesACrashLoopAtOnce) {
  TempDir dir;
  const std::string marker = dir.file("fixed");
  const std::string script = fails_until(dir, marker);
  Memvisor memvisor(dir, {"--name", "w", "--restart-delay", "10ms", "--circuit-failures", "2",
                          "--circuit-cooldown", "10m", "--min-uptime", "300ms", "--", script});
  ASSERT_EQ(memvisor.wait_events("circuit_open", 1, 10s, "w.1").size(), 1u) << memvisor.err();
  std::ofstream(marker) << "ok";
  const auto restart = run_memvisor({"restart", "w.1", "--state-dir", memvisor.state_dir()});
  ASSERT_EQ(restart.exit_code, 0) << restart.err;
  const auto tried = memvisor.wait_events("circuit_half_open", 1, 10s, "w.1");
  ASSERT_EQ(tried.size(), 1u) << memvisor.err();
  EXPECT_EQ(tried[0]["reason"], "operator");
  ASSERT_EQ(memvisor.wait_events("circuit_closed", 1, 10s, "w.1").size(), 1u) << memvisor.err();
  EXPECT_EQ(memvisor.status()["instances"][0]["state"], "running");
}

// An instance in a crash loop that is stopped says so (it went on showing crash-loop), and a
// start tries it once, at once: the still broken worker opens the circuit again.
TEST(Restart, StopAndStartOfACrashLoop) {
  TempDir dir;
  const int port = free_port();
  ASSERT_GT(port, 0);
  Memvisor memvisor(dir, {"--name", "loop", "--restart-delay", "10ms", "--circuit-failures", "2",
                          "--circuit-cooldown", "10m", "--http",
                          "127.0.0.1:" + std::to_string(port), "--", "sh", "-c", "exit 1"});
  ASSERT_EQ(memvisor.wait_events("circuit_open", 1, 10s, "loop.1").size(), 1u) << memvisor.err();
  const std::string open_state =
      "memvisor_instance_circuit_state{service=\"loop\",instance=\"1\",state=\"open\"} 1\n";
  auto metrics = [&] {
    auto reply = http_get(port, "/metrics");
    return reply ? reply->body : std::string();
  };
  EXPECT_TRUE(eventually([&] { return metrics().find(open_state) != std::string::npos; }, 10s))
      << metrics();
  ASSERT_EQ(run_memvisor({"stop", "loop.1", "--state-dir", memvisor.state_dir()}).exit_code, 0);
  ASSERT_EQ(memvisor.wait_events("stopped", 1, 10s, "loop.1").size(), 1u) << memvisor.err();
  EXPECT_TRUE(
      eventually([&] { return memvisor.status()["instances"][0]["state"] == "stopped"; }, 10s))
      << memvisor.status().dump();
  // Stopped as asked, it is no crash loop for the shipped alert (circuit_state{state="closed"}
  // == 0 paged on for as long as the stopped instance's circuit stayed open).
  EXPECT_TRUE(eventually(
      [&] {
        const std::string body = metrics();
        return body.find("memvisor_service_desired_instances{service=\"loop\"} 0") !=
                   std::string::npos &&
               body.find("memvisor_instance_circuit_state{service=\"loop\"") == std::string::npos;
      },
      10s))
      << metrics();
  ASSERT_EQ(run_memvisor({"start", "loop.1", "--state-dir", memvisor.state_dir()}).exit_code, 0);
  ASSERT_EQ(memvisor.wait_events("circuit_open", 2, 10s, "loop.1").size(), 2u) << memvisor.err();
  EXPECT_EQ(memvisor.events("started", "loop.1").size(), 3u);
}

// A crash loop's half-open tries serve a second, then crash: they are not counted ready while on
// probation, so ready_instances holds at 0 and an alert on it (ServiceDown, `for: 1m`) is not
// reset at every cool-down.
TEST(Restart, AHalfOpenTryIsNotReadyWhileOnProbation) {
  TempDir dir;
  const int port = free_port();
  ASSERT_GT(port, 0);
  Memvisor memvisor(
      dir, {"--name", "loop", "--restart-delay", "10ms", "--circuit-failures", "2",
            "--circuit-cooldown", "1500ms", "--http", "127.0.0.1:" + std::to_string(port), "--",
            "sh", "-c", "sleep 1; exit 1"});
  ASSERT_EQ(memvisor.wait_events("circuit_open", 1, 20s, "loop.1").size(), 1u) << memvisor.err();
  const std::string ready = "memvisor_service_ready_instances{service=\"loop\"} 1\n";
  int seen_ready = 0;
  const auto until = std::chrono::steady_clock::now() + 7s;
  while (std::chrono::steady_clock::now() < until) {
    auto reply = http_get(port, "/metrics");
    if (reply && reply->body.find(ready) != std::string::npos) ++seen_ready;
    std::this_thread::sleep_for(100ms);
  }
  // The tries happened meanwhile (each one a start), and none was counted ready.
  EXPECT_GE(memvisor.events("circuit_half_open", "loop.1").size(), 2u) << memvisor.err();
  EXPECT_EQ(seen_ready, 0);
}

TEST(Restart, MissingCommandIsAFailedStartNotAForkBomb) {
  TempDir dir;
  Memvisor memvisor(dir, {"--name", "ghost", "--restart-delay", "10ms", "--circuit-failures", "3",
                          "--circuit-cooldown", "10s", "--", "/nonexistent/program", "--flag"});
  const auto failed = memvisor.wait_events("spawn_failed", 3, 10s, "ghost.1");
  ASSERT_EQ(failed.size(), 3u) << memvisor.err();
  EXPECT_NE(failed[0]["message"].get<std::string>().find("/nonexistent/program"),
            std::string::npos);
  EXPECT_NE(failed[0]["message"].get<std::string>().find("No such file or directory"),
            std::string::npos);
  ASSERT_EQ(memvisor.wait_events("circuit_open", 1, 5s, "ghost.1").size(), 1u);
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(memvisor.events("spawn_failed", "ghost.1").size(), 3u);
  EXPECT_TRUE(memvisor.events("started", "ghost.1").empty());
  EXPECT_NE(memvisor.err().find("No such file or directory"), std::string::npos);
}

TEST(Restart, OnFailurePolicyLeavesACleanExitStopped) {
  TempDir dir;
  Memvisor memvisor(dir, {"--name", "once", "--restart", "on-failure", "--", "true"});
  ASSERT_EQ(memvisor.wait_events("stopped", 1, 10s, "once.1").size(), 1u) << memvisor.err();
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(memvisor.events("started", "once.1").size(), 1u);
}

TEST(Restart, NeverPolicyDoesNotRestartACrash) {
  TempDir dir;
  Memvisor memvisor(dir, {"--name", "once", "--restart", "never", "--", "false"});
  ASSERT_EQ(memvisor.wait_events("stopped", 1, 10s, "once.1").size(), 1u) << memvisor.err();
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(memvisor.events("started", "once.1").size(), 1u);
}

}  // namespace
}  // namespace memvisor::testing
