// Crash reports into a temp dir: the summary describes the rule that acted and the action asked
// for, and two reports of one unit within a second sit side by side.
#include "supervisor/crash_report.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "os/files.h"
#include "os/test_temp_dir.h"

namespace memvisor {
namespace {

namespace fs = std::filesystem;

CrashReportInput leak_input(const std::string& dir, const std::deque<TimedSample>& samples) {
  CrashReportInput input;
  input.incidents_dir = dir;
  input.time = from_unix_seconds(1795375812.25);
  input.proc_root = dir + "/no-proc";
  RuleDecision decision;
  decision.rule = "leak";
  decision.action = "recycle";
  decision.metric = "pss";
  decision.threshold = 10.0 * (1 << 20);
  decision.slope_bytes_per_hour = 40.0 * (1 << 20);
  decision.message = "pss floor grows 40 MiB/h";
  input.action = RuleAction{"python3", 1, 1, 4242, decision};
  input.samples = &samples;
  input.action_text = "killed (SIGKILL) by memvisor watch; nothing restarts it";
  return input;
}

TEST(CrashReport, SaysWhichRuleActedAndWhatWasDone) {
  TestTempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::deque<TimedSample> samples{{1, {.rss = 100u << 20, .pss = 90u << 20}}};
  auto written = write_crash_report(leak_input(dir.path(), samples));
  ASSERT_TRUE(written) << written.error().describe();
  const std::string summary_path = written->substr(0, written->size() - 5) + "-summary.txt";
  auto summary = read_file(summary_path);
  ASSERT_TRUE(summary) << summary_path;
  // It said "critical = 10 MiB (pss)" for a leak, and "it restarts" for a process nothing restarts.
  EXPECT_NE(summary->find("rule:       leak: pss grows 40 MiB/h against a rate of 10 MiB/h\n"),
            std::string::npos)
      << *summary;
  EXPECT_NE(summary->find("action:     killed (SIGKILL) by memvisor watch; nothing restarts it\n"),
            std::string::npos)
      << *summary;
}

TEST(CrashReport, TwoReportsOfOneUnitInASecondAreBothKept) {
  TestTempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::deque<TimedSample> samples{{1, {.rss = 1}}};
  auto first = write_crash_report(leak_input(dir.path(), samples));
  auto second = write_crash_report(leak_input(dir.path(), samples));
  ASSERT_TRUE(first && second);
  EXPECT_NE(*first, *second);
  EXPECT_EQ(*second, dir.path() + "/memvisor-crash-20261122-193012-python3.1-2.json");
  size_t files = 0;
  for (const auto& entry : fs::directory_iterator(dir.path())) files += entry.is_regular_file();
  EXPECT_EQ(files, 4u);  // two JSON reports and two summaries
}

}  // namespace
}  // namespace memvisor
