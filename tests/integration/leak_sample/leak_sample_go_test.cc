// The leak rule's heap sample of a Go worker: the supervisor's sampling child reaches the worker's
// net/http/pprof endpoint (the service's `pprof`), and the incident bundle holds a Go report.
#include <gtest/gtest.h>

#include <filesystem>

#include "harness.h"
#include "runtimes/go_worker.h"

namespace memvisor::testing {
namespace {

TEST(LeakSample, AGoWorkersSampleIsItsOwnHeapByGoFunction) {
  TempDir dir;
  const std::string binary = build_leaky_go(dir);
  if (binary.empty()) GTEST_SKIP() << "no Go toolchain (golang-go)";
  const int port = free_port();
  Memvisor memvisor(dir, {go_config(dir, binary, port, "slow",
                                    "interval = \"1s\"\nleak = { rate = \"10MiB/h\", sample = "
                                    "\"20s\", warmup = \"1m\" }\n")});
  const auto samples = memvisor.wait_events("heap_sample", 2, 600s, "api.1");
  ASSERT_EQ(samples.size(), 2u) << memvisor.err();
  ASSERT_EQ(samples[1]["state"], "written") << samples[1].dump();
  const auto report = nlohmann::json::parse(read_text(samples[1]["path"]), nullptr, false);
  ASSERT_TRUE(report.is_object());
  EXPECT_EQ(report["runtime"], "go");
  ASSERT_FALSE(report["by_function"].empty());
  EXPECT_EQ(report["by_function"][0]["function"], "main.rememberInvoice") << report.dump(2);
  // The summary names it too, and says nothing of a native sampling interval.
  const auto incidents = memvisor.wait_events("incident", 1, 60s, "api.1");
  ASSERT_EQ(incidents.size(), 1u) << memvisor.err();
  const std::string summary = read_text(incidents[0].value("path", "") + "/summary.txt");
  EXPECT_NE(summary.find(", go; top function main.rememberInvoice ~"), std::string::npos)
      << summary;
  EXPECT_EQ(summary.find("one sample per"), std::string::npos) << summary;
  ASSERT_EQ(memvisor.wait_events("recycled", 1, 120s, "api.1").size(), 1u) << memvisor.err();
}

}  // namespace
}  // namespace memvisor::testing
