// The command line as a new user meets it: help, exit codes, status, output and environment.
#include <gtest/gtest.h>
#include <signal.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "harness.h"

namespace memvisor::testing {
namespace {

TEST(Cli, EverySubcommandHasHelp) {
  for (const char* sub : {"run", "check", "status"}) {
    const auto result = run_memvisor({sub, "--help"});
    EXPECT_EQ(result.exit_code, 0) << sub;
    EXPECT_NE(result.out.find("--state-dir"), std::string::npos) << sub << ": " << result.out;
  }
  const auto top = run_memvisor({"--help"});
  EXPECT_EQ(top.exit_code, 0);
  EXPECT_NE(top.out.find("run"), std::string::npos);
}

TEST(Cli, UsageErrorsExitTwo) {
  EXPECT_EQ(run_memvisor({}).exit_code, 2);
  EXPECT_EQ(run_memvisor({"frobnicate"}).exit_code, 2);
  EXPECT_EQ(run_memvisor({"run"}).exit_code, 2);
  EXPECT_EQ(run_memvisor({"run", "--no-such-flag", "--", "true"}).exit_code, 2);
  EXPECT_EQ(run_memvisor({"check"}).exit_code, 2);
  // An empty --name is refused as [service.""] is (it silently took the program's name), and a
  // negative --last as out of range (it wrapped around to "everything").
  const auto empty_name = run_memvisor({"run", "--name", "", "--", "true"});
  EXPECT_EQ(empty_name.exit_code, 2);
  EXPECT_NE(empty_name.err.find("--name: expected a service name"), std::string::npos)
      << empty_name.err;
  EXPECT_EQ(run_memvisor({"events", "--last", "-1", "--state-dir", "/nonexistent"}).exit_code, 2);
}

TEST(Cli, StatusWithoutAMemvisorExitsOneWithAClearMessage) {
  TempDir dir;
  const auto result = run_memvisor({"status", "--state-dir", dir.file("nothing-here")});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("no memvisor answers"), std::string::npos) << result.err;
}

TEST(Cli, StatusTableShowsEveryInstance) {
  TempDir dir;
  Memvisor memvisor(dir, {"--name", "web", "--instances", "2", "--", "sleep", "60"});
  ASSERT_EQ(memvisor.wait_events("ready", 2, 10s).size(), 2u);
  const auto result = run_memvisor({"status", "--state-dir", memvisor.state_dir()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("web: 2/2 ready"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("SERVICE  INSTANCE  PID"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("running"), std::string::npos) << result.out;
}

TEST(Cli, StatusShowsWhatTheLeakRuleWaitsFor) {
  TempDir dir;
  Memvisor memvisor(
      dir, {"--name", "web", "--interval", "100ms", "--leak", "10MiB/h", "--", "sleep", "60"});
  ASSERT_EQ(memvisor.wait_events("ready", 1, 10s).size(), 1u);
  std::string reason;
  ASSERT_TRUE(eventually(
      [&] {
        const auto result = run_memvisor({"status", "--json", "--state-dir", memvisor.state_dir()});
        const auto status = nlohmann::json::parse(result.out, nullptr, false);
        if (status.is_discarded() || status["instances"].empty()) return false;
        const auto& memory = status["instances"][0]["memory"];
        if (!memory.is_object() || !memory.contains("leak_reason")) return false;
        reason = memory["leak_reason"].get<std::string>();
        return true;
      },
      10s));
  EXPECT_FALSE(reason.empty());
  const auto table = run_memvisor({"status", "--state-dir", memvisor.state_dir()});
  EXPECT_NE(table.out.find("  LEAK  "), std::string::npos) << table.out;
}

TEST(Cli, SecondMemvisorOnTheSameStateDirIsRefused) {
  TempDir dir;
  Memvisor first(dir, {"--name", "web", "--", "sleep", "60"});
  ASSERT_EQ(first.wait_events("started", 1, 10s).size(), 1u);
  const auto second = run_memvisor({"run", "--state-dir", first.state_dir(), "--", "sleep", "60"});
  EXPECT_EQ(second.exit_code, 1);
  EXPECT_NE(second.err.find("another memvisor"), std::string::npos) << second.err;
}

TEST(Cli, OutputIsPrefixedAndTheEnvironmentNamesTheInstance) {
  TempDir dir;
  const std::string script =
      dir.write("hello.sh",
                "#!/bin/sh\necho \"out $MEMVISOR_SERVICE $MEMVISOR_INSTANCE $GREETING $(pwd)\"\n"
                "echo err >&2\nread line || echo stdin-is-empty\nexec sleep 60\n",
                true);
  Memvisor memvisor(dir, {"--name", "hi", "--instances", "2", "--env", "GREETING=hello", "--cwd",
                          dir.path(), "--", script});
  ASSERT_TRUE(eventually(
      [&] {
        return memvisor.out().find("hi.1 | stdin-is-empty") != std::string::npos &&
               memvisor.out().find("hi.2 | stdin-is-empty") != std::string::npos &&
               memvisor.err().find("hi.1 | err") != std::string::npos;
      },
      10s))
      << memvisor.out();
  const std::string out = memvisor.out();
  EXPECT_NE(out.find("hi.1 | out hi 1 hello " + dir.path()), std::string::npos) << out;
  EXPECT_NE(out.find("hi.2 | out hi 2 hello " + dir.path()), std::string::npos) << out;
  EXPECT_NE(memvisor.err().find("hi.1 | err"), std::string::npos) << memvisor.err();
}

TEST(Cli, OutputToAFilePerInstance) {
  TempDir dir;
  Memvisor memvisor(dir, {"--name", "f", "--output", "file", "--log-dir", dir.file("logs"), "--",
                          "sh", "-c", "echo to-file; exec sleep 60"});
  ASSERT_TRUE(eventually([&] { return read_text(dir.file("logs/f.1.log")) == "to-file\n"; }, 10s));
  EXPECT_EQ(memvisor.out().find("to-file"), std::string::npos);
}

}  // namespace
}  // namespace memvisor::testing

namespace memvisor::testing {
namespace {

TEST(Control, RestartStopAndStartAnInstance) {
  TempDir dir;
  Memvisor memvisor(
      dir, {"--name", "web", "--instances", "2", "--restart-delay", "10ms", "--", "sleep", "60"});
  ASSERT_EQ(memvisor.wait_events("ready", 2, 10s).size(), 2u) << memvisor.err();
  auto with_state = [&](std::vector<std::string> args) {
    args.insert(args.end(), {"--state-dir", memvisor.state_dir()});
    return run_memvisor(args, 10s);
  };

  auto result = with_state({"restart", "web.2"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "restarting web.2\n");
  ASSERT_EQ(memvisor.wait_events("started", 2, 10s, "web.2").size(), 2u) << memvisor.err();
  const auto exited = memvisor.wait_events("exited", 1, 10s, "web.2");
  ASSERT_EQ(exited.size(), 1u) << memvisor.err();
  EXPECT_EQ(exited[0]["reason"], "operator");
  EXPECT_EQ(memvisor.events("started", "web.1").size(), 1u);  // the other instance untouched

  result = with_state({"stop", "web"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  ASSERT_EQ(memvisor.wait_events("stopped", 2, 10s).size(), 2u) << memvisor.err();
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(memvisor.events("started").size(), 3u);  // stopped means stopped

  result = with_state({"start", "web.1"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  ASSERT_EQ(memvisor.wait_events("started", 2, 10s, "web.1").size(), 2u);
  const auto status = memvisor.status();
  EXPECT_EQ(status["instances"][0]["state"], "running");
  EXPECT_EQ(status["instances"][1]["state"], "stopped");
}

TEST(Control, UnknownTargetsAreRefusedWithExitTwo) {
  TempDir dir;
  Memvisor memvisor(dir, {"--name", "web", "--", "sleep", "60"});
  ASSERT_EQ(memvisor.wait_events("ready", 1, 10s).size(), 1u);
  auto result = run_memvisor({"restart", "nosuch", "--state-dir", memvisor.state_dir()});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("no service 'nosuch'"), std::string::npos) << result.err;
  result = run_memvisor({"restart", "web.7", "--state-dir", memvisor.state_dir()});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("no instance web.7"), std::string::npos) << result.err;
  // A service name has no dot: web.0 is an instance out of range, not a service (it said "no
  // service 'web.0'").
  result = run_memvisor({"restart", "web.0", "--state-dir", memvisor.state_dir()});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("no instance web.0 (web has 1, numbered from 1)"), std::string::npos)
      << result.err;
  // Not a target at all: the caller's mistake too, exit 2 (it was 1).
  for (const char* bad : {"", ".1"}) {
    result = run_memvisor({"stop", bad, "--state-dir", memvisor.state_dir()});
    EXPECT_EQ(result.exit_code, 2) << "'" << bad << "': " << result.err;
    EXPECT_NE(result.err.find("must be SERVICE or SERVICE.N"), std::string::npos) << result.err;
  }
}

// A supervisor that does not answer (stopped here; hung in life): the client says so, and that
// the request may still be carried out, instead of a bare socket error.
TEST(Control, ASupervisorThatDoesNotAnswerIsSaidToBeHung) {
  TempDir dir;
  Memvisor memvisor(dir, {"--name", "web", "--", "sleep", "60"});
  ASSERT_EQ(memvisor.wait_events("ready", 1, 10s).size(), 1u);
  const nlohmann::json status = status_of(memvisor);
  const int supervisor = status.value("supervisor_pid", 0);
  ASSERT_GT(supervisor, 0);
  ASSERT_EQ(::kill(supervisor, SIGSTOP), 0);
  const auto result = run_memvisor({"status", "--state-dir", memvisor.state_dir()}, 30s);
  ::kill(supervisor, SIGCONT);
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("it may be hung"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace memvisor::testing
