// `memvisor watch`: one process guarded without a config (seed 002's use).
#include <gtest/gtest.h>

#include <filesystem>

#include "harness.h"

namespace memvisor::testing {
namespace {

TEST(Watch, WarnsOnceThenKillsAtCriticalWithACrashReport) {
  TempDir dir;
  const std::string grower = dir.write("grow.py",
                                       "import time\nhog = []\nwhile True:\n    "
                                       "hog.append(bytearray(5 << 20))\n    time.sleep(0.05)\n");
  const auto result = run_memvisor({"watch", "--warn", "40MiB", "--critical", "100MiB",
                                    "--state-dir", dir.file("state"), "--", "python3", grower},
                                   30s);
  EXPECT_EQ(result.exit_code, 1) << result.err;
  EXPECT_NE(result.err.find("WARNING"), std::string::npos) << result.err;
  EXPECT_EQ(result.err.find("WARNING"), result.err.rfind("WARNING")) << "warned more than once";
  EXPECT_NE(result.err.find("CRITICAL"), std::string::npos) << result.err;
  int reports = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.file("state/incidents"))) {
    reports += entry.path().filename().string().rfind("memvisor-crash-", 0) == 0;
  }
  EXPECT_EQ(reports, 2);  // the JSON and its summary
}

TEST(Watch, PassesTheCommandsOwnExitCodeThrough) {
  EXPECT_EQ(run_memvisor({"watch", "--critical", "1GiB", "--", "sh", "-c", "exit 7"}).exit_code, 7);
  EXPECT_EQ(run_memvisor({"watch", "--critical", "1GiB", "--", "true"}).exit_code, 0);
  EXPECT_EQ(run_memvisor({"watch", "--critical", "1GiB"}).exit_code, 2);
}

}  // namespace
}  // namespace memvisor::testing
