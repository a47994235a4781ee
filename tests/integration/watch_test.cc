// `memvisor watch`: one process guarded without a config (seed 002's use).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
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

// Another user's process: pidfd_open checks no permission, so the watch started and, at critical,
// said "killed" about a process that ran on. Refused at once now, with the reason.
TEST(Watch, AProcessItMayNotSignalIsRefusedAtOnce) {
  if (::getuid() != 0 || !have_program("setpriv")) GTEST_SKIP() << "needs root and setpriv";
  const pid_t target = ::fork();
  if (target == 0) {
    ::execlp("sleep", "sleep", "60", nullptr);
    ::_exit(127);
  }
  ASSERT_GT(target, 0);
  TempDir dir;
  std::filesystem::permissions(dir.path(), std::filesystem::perms::all);
  // As nobody (uid 65534), which may not signal this root process.
  const std::string command = "timeout 20 setpriv --reuid=65534 --regid=65534 --clear-groups " +
                              std::string(MEMVISOR_BINARY) + " watch --critical 1GiB --pid " +
                              std::to_string(target) + " --state-dir " + dir.file("state") +
                              " 2>&1";
  std::string output;
  FILE* pipe = ::popen(command.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, pipe) != nullptr) output += buffer;
  const int status = ::pclose(pipe);
  ::kill(target, SIGKILL);
  ::waitpid(target, nullptr, 0);
  EXPECT_TRUE(WIFEXITED(status)) << output;
  EXPECT_EQ(WEXITSTATUS(status), 1) << output;
  EXPECT_NE(output.find("cannot signal pid " + std::to_string(target)), std::string::npos)
      << output;
}

}  // namespace
}  // namespace memvisor::testing
