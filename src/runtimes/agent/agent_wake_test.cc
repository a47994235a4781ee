// The Ruby agent's marker and the /proc fields memvisor checks before SIGURG, on text captured
// from a real Ruby 3.1 with the agent (run as nobody), and check_agent_wake on a fake /proc.
#include "runtimes/agent/agent_wake.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>

#include "core/test_fixtures.h"
#include "os/files.h"
#include "os/test_temp_dir.h"

namespace memvisor {
namespace {

std::string ruby_fixture(const std::string& name) {
  auto text = read_file(fixture_path("runtimes/ruby/" + name));
  return text ? *text : "";
}

TEST(AgentWake, MarkerOfARealAgent) {
  const auto marker = parse_agent_wake_marker(ruby_fixture("marker_armed.txt"));
  ASSERT_TRUE(marker.has_value());
  EXPECT_EQ(marker->start_time_ticks, 1560667u);
  EXPECT_EQ(marker->state, "armed");
  EXPECT_EQ(parse_agent_wake_marker("77 app-trap\n")->state, "app-trap");
}

TEST(AgentWake, MalformedMarkersAreRefused) {
  EXPECT_FALSE(parse_agent_wake_marker("").has_value());
  EXPECT_FALSE(parse_agent_wake_marker("1560667 armed").has_value());  // half written
  EXPECT_FALSE(parse_agent_wake_marker("armed\n").has_value());
  EXPECT_FALSE(parse_agent_wake_marker(" 12 armed\n").has_value());
  EXPECT_FALSE(parse_agent_wake_marker("12x armed\n").has_value());
  EXPECT_FALSE(parse_agent_wake_marker("12 \n").has_value());
  EXPECT_FALSE(parse_agent_wake_marker("12 Armed!\n").has_value());
  EXPECT_FALSE(parse_agent_wake_marker("123456789012345678901 armed\n").has_value());
}

TEST(AgentWake, SigurgIsCaughtWithTheAgentOnly) {
  EXPECT_EQ(status_catches_signal(ruby_fixture("status_with_agent.txt"), SIGURG), true);
  EXPECT_EQ(status_catches_signal(ruby_fixture("status_without_agent.txt"), SIGURG), false);
  // What Ruby itself catches, in both (SIGINT was ignored by the shell that started them).
  for (int signo : {SIGTERM, SIGCHLD, SIGUSR1})
    EXPECT_EQ(status_catches_signal(ruby_fixture("status_without_agent.txt"), signo), true);
  EXPECT_EQ(status_catches_signal(ruby_fixture("status_without_agent.txt"), SIGWINCH), false);
  EXPECT_FALSE(status_catches_signal("Name:\truby\n", SIGURG).has_value());
  EXPECT_FALSE(status_catches_signal("SigCgt:\t00zz\n", 1).has_value());
  EXPECT_EQ(status_catches_signal("SigCgt:\t8\n", 4), true);
  EXPECT_EQ(status_catches_signal("SigCgt:\t8\n", 40), false);
}

TEST(AgentWake, UidsOfTheStatus) {
  EXPECT_EQ(status_uids(ruby_fixture("status_with_agent.txt")),
            (std::vector<uint32_t>{65534, 65534, 65534, 65534}));
  EXPECT_EQ(status_uids("Uid:\t1000\t0\t0\t1000\n"), (std::vector<uint32_t>{1000, 0, 0, 1000}));
  EXPECT_TRUE(status_uids("Uid:\t10x\t0\n").empty());
  EXPECT_TRUE(status_uids("Gid:\t0\n").empty());
}

TEST(AgentWake, EveryStateSaysWhy) {
  EXPECT_NE(agent_wake_refusal("app-trap").find("traps SIGURG itself"), std::string::npos);
  EXPECT_NE(agent_wake_refusal("foreign-handler").find("already had a handler"), std::string::npos);
  EXPECT_NE(agent_wake_refusal("no-proc").find("/proc/self/status"), std::string::npos);
  EXPECT_NE(agent_wake_refusal("later").find("\"later\""), std::string::npos);
}

// A fake /proc/PID (stat, status, exe) and a sampler dir with a marker.
class FakeRubyProcess {
 public:
  FakeRubyProcess() {
    std::filesystem::create_directories(root_ / "proc/4242");
    std::filesystem::create_directories(root_ / "sampler");
    std::ofstream(root_ / "proc/4242/stat") << ruby_fixture("stat_with_agent.txt");
    set_status(ruby_fixture("status_with_agent.txt"));
    set_exe("/usr/bin/ruby3.1");
    set_marker("1560667 armed\n");
  }
  void set_status(const std::string& text) { std::ofstream(root_ / "proc/4242/status") << text; }
  void set_exe(const std::string& target) {
    std::filesystem::remove(root_ / "proc/4242/exe");
    std::filesystem::create_symlink(target, root_ / "proc/4242/exe");
  }
  void set_marker(const std::string& text) { std::ofstream(root_ / "sampler/4242.wake") << text; }
  void remove_marker() { std::filesystem::remove(root_ / "sampler/4242.wake"); }
  AgentWakeTarget target() const { return {root_ / "sampler", 4242, root_ / "proc"}; }
  std::string marker_path() const { return root_ / "sampler/4242.wake"; }

 private:
  TestTempDir root_;
};

TEST(AgentWake, ArmedMarkerOfTheSameProcessPasses) {
  FakeRubyProcess process;
  Status checked = check_agent_wake(process.target());
  EXPECT_TRUE(checked.ok()) << checked.error().describe();
}

TEST(AgentWake, MissingMarkerIsEnoent) {
  FakeRubyProcess process;
  process.remove_marker();
  Status checked = check_agent_wake(process.target());
  ASSERT_FALSE(checked.ok());
  EXPECT_EQ(checked.error().errnum, ENOENT);
}

TEST(AgentWake, StaleMarkerOfAnEarlierProcessIsRefused) {
  FakeRubyProcess process;
  process.set_marker("1560666 armed\n");
  Status checked = check_agent_wake(process.target());
  ASSERT_FALSE(checked.ok());
  EXPECT_NE(checked.error().message.find("is stale"), std::string::npos);
}

TEST(AgentWake, AppTrapIsRefusedWithItsReason) {
  FakeRubyProcess process;
  process.set_marker("1560667 app-trap\n");
  Status checked = check_agent_wake(process.target());
  ASSERT_FALSE(checked.ok());
  EXPECT_NE(checked.error().message.find("the app traps SIGURG itself"), std::string::npos)
      << checked.error().message;
}

TEST(AgentWake, ProcessNoLongerCatchingSigurgIsRefused) {
  FakeRubyProcess process;
  process.set_status(ruby_fixture("status_without_agent.txt"));
  Status checked = check_agent_wake(process.target());
  ASSERT_FALSE(checked.ok());
  EXPECT_NE(checked.error().message.find("no longer handles SIGURG"), std::string::npos);
}

TEST(AgentWake, ProcessThatIsNoLongerRubyIsRefused) {
  FakeRubyProcess process;
  process.set_exe("/usr/bin/python3.11");
  Status checked = check_agent_wake(process.target());
  ASSERT_FALSE(checked.ok());
  EXPECT_NE(checked.error().message.find("no longer a Ruby process"), std::string::npos);
}

TEST(AgentWake, MarkerOfAnotherUserIsRefused) {
  if (::geteuid() != 0) GTEST_SKIP() << "chown needs root";
  FakeRubyProcess process;
  ASSERT_EQ(::chown(process.marker_path().c_str(), 12345, 12345), 0);
  Status checked = check_agent_wake(process.target());
  ASSERT_FALSE(checked.ok());
  EXPECT_NE(checked.error().message.find("belongs to uid 12345"), std::string::npos);
  ASSERT_EQ(::chown(process.marker_path().c_str(), 65534, 65534), 0);  // the process's own
  EXPECT_TRUE(check_agent_wake(process.target()).ok());
}

}  // namespace
}  // namespace memvisor
