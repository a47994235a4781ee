// A leak found across a supervisor `kill -9`: a native worker leaking from its start, the leak
// rule tuned as in the heap-sample tests (1 s samples, `--leak-warmup 1m`: about 3 minutes to a
// verdict), the supervisor killed after the detector's third verdict (90 s). The alert still comes,
// for the same process, from a detector that has seen the process's whole life: its verdict count
// at the alert is that of a detector that never stopped (one per 30 s of life), which one that lost
// its history at the kill (tests/integration/checkpoint_test.cc, the negative control) cannot
// reach. In this executable with the other multi-minute leak tests.
#include <gtest/gtest.h>
#include <signal.h>

#include <chrono>
#include <cmath>
#include <thread>

#include "harness.h"

namespace memvisor::testing {
namespace {

nlohmann::json instance_one(const nlohmann::json& status) {
  if (!status.is_object()) return nullptr;
  for (const auto& record : status["instances"]) {
    if (record.value("instance", 0) == 1) return record;
  }
  return nullptr;
}

uint64_t verdicts_of(const nlohmann::json& record) {
  return record.is_object() && record["memory"].is_object()
             ? record["memory"].value("leak_verdicts", uint64_t{0})
             : 0;
}

TEST(LeakSample, ALeakAlertSurvivesASupervisorKill) {
  TempDir dir;
  Memvisor memvisor(
      dir,
      {"--name", "web", "--interval", "1s", "--leak", "10MiB/h", "--leak-warmup", "1m",
       "--leak-action", "alert", "--", SAMPLER_WORKLOAD, "0", "0", "1800", "drip", "400"},
      {}, {"MEMVISOR_CHECKPOINT_PERIOD_MS=5000"});
  nlohmann::json before;
  ASSERT_TRUE(eventually(
      [&] { return verdicts_of(before = instance_one(status_of(memvisor))) >= 3; }, 300s))
      << memvisor.err();
  ASSERT_TRUE(memvisor.events("rule", "web.1").empty()) << "the leak was found before the kill";
  std::this_thread::sleep_for(6s);  // a checkpoint period after the reading
  const nlohmann::json status = status_of(memvisor);
  ASSERT_EQ(::kill(status["supervisor_pid"].get<int>(), SIGKILL), 0);

  const auto alerts = memvisor.wait_events("rule", 1, 600s, "web.1");
  ASSERT_EQ(alerts.size(), 1u) << memvisor.err();
  EXPECT_EQ(alerts[0]["rule"], "leak");
  EXPECT_EQ(alerts[0]["pid"], before["pid"]);  // the same process: the worker was not touched
  nlohmann::json after;
  ASSERT_TRUE(
      eventually([&] { return (after = instance_one(status_of(memvisor))).is_object(); }, 30s));
  const double age_s =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count() -
      after["started_at"].get<double>();
  // One verdict per 30 s bucket of the process's life, less one for a status read at a bucket's
  // edge (the seconds lost between the last checkpoint and the restart skip no bucket). A
  // detector that started over at the kill would be at least three short.
  EXPECT_GE(static_cast<double>(verdicts_of(after)), std::floor(age_s / 30) - 1)
      << "age " << age_s << " s: " << after.dump();
  EXPECT_TRUE(memvisor.err().find("restored the rules' history of 1 process(es)") !=
              std::string::npos)
      << memvisor.err();
  EXPECT_EQ(memvisor.events("supervisor_exited").size(), 1u);
  EXPECT_TRUE(memvisor.events("exited").empty());
}

}  // namespace
}  // namespace memvisor::testing
