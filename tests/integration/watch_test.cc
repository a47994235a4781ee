// `memvisor watch`: one process guarded without a config (seed 002's use).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
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
  std::string summary;
  for (const auto& entry : std::filesystem::directory_iterator(dir.file("state/incidents"))) {
    const std::string name = entry.path().filename().string();
    reports += name.rfind("memvisor-crash-", 0) == 0;
    if (name.ends_with("-summary.txt")) summary = read_text(entry.path().string());
  }
  EXPECT_EQ(reports, 2);  // the JSON and its summary
  // Nothing restarts a watched process, and the summary says so (it said "it restarts per its
  // restart policy").
  EXPECT_NE(summary.find("action:     killed (SIGKILL) by memvisor watch; nothing restarts it"),
            std::string::npos)
      << summary;
  EXPECT_NE(summary.find("rule:       critical = 100 MiB (pss), measured "), std::string::npos)
      << summary;

  // An incident bundle too, as `run` writes: `memvisor incidents` lists it (it listed nothing).
  const auto listed =
      run_memvisor({"incidents", "list", "--json", "--state-dir", dir.file("state")});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  const auto incidents = nlohmann::json::parse(listed.out, nullptr, false);
  ASSERT_TRUE(incidents.is_array() && incidents.size() == 1) << listed.out;
  EXPECT_EQ(incidents[0].value("trigger", ""), "critical") << listed.out;
  const std::string bundle = dir.file("state/incidents/") + incidents[0].value("id", "");
  const std::string csv = read_text(bundle + "/memory.csv");
  EXPECT_GE(std::count(csv.begin(), csv.end(), '\n'), 3) << csv;
  EXPECT_NE(read_text(bundle + "/summary.txt").find("nothing restarts it"), std::string::npos);
  EXPECT_NE(read_text(bundle + "/smaps_top.txt").find("grouped by module"), std::string::npos);
  EXPECT_NE(result.err.find("incident bundle: " + bundle), std::string::npos) << result.err;
}

// Only the flags that mean something for one process: it has no pool, no restart and no
// replacement (its help listed --instances, --restart … , accepted and ignored).
TEST(Watch, TakesOnlyTheFlagsThatGuardOneProcess) {
  const auto help = run_memvisor({"watch", "--help"});
  EXPECT_EQ(help.exit_code, 0);
  for (const char* flag : {"--critical", "--warn", "--limit", "--leak", "--interval", "--tree"}) {
    EXPECT_NE(help.out.find(flag), std::string::npos) << flag << "\n" << help.out;
  }
  for (const char* flag : {"--instances", "--restart", "--max-requests", "--listen", "--prefork"}) {
    EXPECT_EQ(help.out.find(flag), std::string::npos) << flag << "\n" << help.out;
    EXPECT_EQ(run_memvisor({"watch", flag, "2", "--critical", "1GiB", "--", "true"}).exit_code, 2)
        << flag;
  }
  // Gauges come over the worker socket, cgroups are made per instance: `run` has them.
  const auto gauge =
      run_memvisor({"watch", "--metric", "gauge:queue", "--critical", "10", "--", "true"});
  EXPECT_EQ(gauge.exit_code, 2);
  EXPECT_NE(gauge.err.find("gauges and cgroups need memvisor run"), std::string::npos) << gauge.err;
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
