// The Python agent end to end: real CPython workers under the real memvisor with heap_sampler,
// sampled with `memvisor sample`: the leaking function on top, a leak behind json and copy
// charged to the user's function, a negative control, a forked child by its own pid, the same
// output and exit code with and without the agent, and one clear error for `python3 -I`.
#include <gtest/gtest.h>
#include <unistd.h>

#include "agent_sample_support.h"

namespace memvisor::testing {
namespace {

using namespace agent_tests;

constexpr const char* kPython = "/usr/bin/python3";

#define SKIP_WITHOUT_PYTHON() \
  if (::access(kPython, X_OK) != 0) GTEST_SKIP() << kPython << " is not installed"

std::string leaky_python() {
  return source_path("tests/runtimes/python/leaky_app.py");
}

// A supervised leaky_app.py in `mode`, its agent listening.
struct PythonWorker : AgentWorker {
  explicit PythonWorker(const std::vector<std::string>& args) : AgentWorker(kPython, "py", args) {}
};

TEST(PythonSample, LeakingFunctionAndLineAreOnTopInThreeRuns) {
  SKIP_WITHOUT_PYTHON();
  PythonWorker worker({leaky_python(), "invoice"});
  ASSERT_GT(worker.pid, 0) << worker.memvisor->err();
  ASSERT_TRUE(agent_listens(*worker.memvisor, worker.pid)) << worker.memvisor->err();
  const std::string location =
      leaky_python() + ":" + std::to_string(line_of(leaky_python(), "LEAK: invoice"));
  for (int run = 0; run < 3; ++run) {
    const auto outcome =
        sample(*worker.memvisor, worker.dir, {"py.1"}, "3s", "run" + std::to_string(run) + ".json");
    ASSERT_EQ(outcome.command.exit_code, 0) << outcome.command.out << outcome.command.err;
    EXPECT_EQ(outcome.report["runtime"], "python");
    EXPECT_EQ(top(outcome.report, "by_function", "function"), "remember_invoice")
        << outcome.command.out;
    EXPECT_EQ(top(outcome.report, "by_location", "location"), location) << outcome.command.out;
    EXPECT_EQ(top(outcome.report, "by_module", "module"), "leaky_app") << outcome.command.out;
    EXPECT_GT(outcome.report["total_retained"]["bytes"].get<double>(), 100000.0);
  }
}

TEST(PythonSample, LeakBehindJsonAndDeepcopyChargesTheCaller) {
  SKIP_WITHOUT_PYTHON();
  PythonWorker worker({leaky_python(), "helper"});
  ASSERT_TRUE(agent_listens(*worker.memvisor, worker.pid)) << worker.memvisor->err();
  const auto outcome = sample(*worker.memvisor, worker.dir, {"py.1"}, "3s", "helper.json");
  ASSERT_EQ(outcome.command.exit_code, 0) << outcome.command.out << outcome.command.err;
  EXPECT_EQ(top(outcome.report, "by_function", "function"), "remember_order")
      << outcome.command.out;
  EXPECT_EQ(top(outcome.report, "by_location", "location"),
            leaky_python() + ":" + std::to_string(line_of(leaky_python(), "LEAK: order")));
  // The stack still shows the helpers the blocks came through.
  const std::string stack = outcome.report["top_stacks"][0]["frames"].dump();
  EXPECT_NE(stack.find("json"), std::string::npos) << stack;
}

TEST(PythonSample, WithoutALeakTheLeakFunctionIsAbsent) {
  SKIP_WITHOUT_PYTHON();
  PythonWorker worker({leaky_python(), "none"});
  ASSERT_TRUE(agent_listens(*worker.memvisor, worker.pid)) << worker.memvisor->err();
  const auto outcome = sample(*worker.memvisor, worker.dir, {"py.1"}, "3s", "none.json");
  ASSERT_EQ(outcome.command.exit_code, 0) << outcome.command.out << outcome.command.err;
  for (const std::string& function : keys(outcome.report, "by_function", "function")) {
    EXPECT_NE(function, "remember_invoice");
    EXPECT_NE(function, "remember_order");
  }
}

TEST(PythonSample, ForkedChildIsSampledByItsOwnPid) {
  SKIP_WITHOUT_PYTHON();
  PythonWorker worker({leaky_python(), "fork"});
  ASSERT_TRUE(agent_listens(*worker.memvisor, worker.pid)) << worker.memvisor->err();
  int child = 0;
  ASSERT_TRUE(eventually(
      [&] {
        for (pid_t p : descendants(worker.pid))
          if (std::filesystem::exists(agent_socket(*worker.memvisor, p))) child = p;
        return child > 0;
      },
      15s))
      << worker.memvisor->err();
  const auto of_child =
      sample(*worker.memvisor, worker.dir, {"--pid", std::to_string(child)}, "2s", "child.json");
  ASSERT_EQ(of_child.command.exit_code, 0) << of_child.command.out << of_child.command.err;
  EXPECT_EQ(of_child.report["pid"], child);
  EXPECT_EQ(top(of_child.report, "by_function", "function"), "remember_child_invoice")
      << of_child.command.out;
  // The parent has its own socket, and no such leak.
  const auto of_parent = sample(*worker.memvisor, worker.dir, {"py.1"}, "2s", "parent.json");
  ASSERT_EQ(of_parent.command.exit_code, 0) << of_parent.command.err;
  for (const std::string& function : keys(of_parent.report, "by_function", "function"))
    EXPECT_NE(function, "remember_child_invoice");
}

// A real pre-fork server: gunicorn's master forks its workers; each worker's agent listens on its
// own pid's socket and a sample of the unit web.1/PID names that worker's leak.
TEST(PythonSample, GunicornWorkerIsSampledByItsUnit) {
  SKIP_WITHOUT_PYTHON();
  if (!have_program("gunicorn")) GTEST_SKIP() << "gunicorn is not installed (scripts/setup)";
  TempDir dir;
  const std::string app_dir = source_path("tests/runtimes/python");
  std::string config =
      service_config("web",
                     {"gunicorn", "--workers", "2", "--bind", "unix:" + dir.file("g.sock"),
                      "--chdir", app_dir, "-c", app_dir + "/gunicorn_conf.py", "gunicorn_app:app"},
                     true);
  config += "prefork = true\nstop_signal = \"SIGTERM\"\n";
  Memvisor memvisor(dir, {dir.write("memvisor.toml", config)});
  const int master = started_pid(memvisor);
  ASSERT_GT(master, 0) << memvisor.err();
  // A worker (a child of the master) whose agent listens.
  int worker = 0;
  ASSERT_TRUE(eventually(
      [&] {
        for (pid_t p : descendants(master))
          if (std::filesystem::exists(agent_socket(memvisor, p))) worker = p;
        return worker > 0;
      },
      20s))
      << memvisor.err();
  const std::string unit = "web.1/" + std::to_string(worker);
  ASSERT_TRUE(eventually(
      [&] {
        const auto status = status_of(memvisor);
        return status.dump().find("\"" + unit + "\"") != std::string::npos;
      },
      20s))
      << status_of(memvisor).dump();
  const auto outcome = sample(memvisor, dir, {unit}, "3s", "worker.json");
  ASSERT_EQ(outcome.command.exit_code, 0) << outcome.command.out << outcome.command.err;
  EXPECT_EQ(outcome.report["pid"], worker);
  EXPECT_EQ(top(outcome.report, "by_function", "function"), "remember_worker_invoice")
      << outcome.command.out;
  EXPECT_EQ(top(outcome.report, "by_location", "location"),
            app_dir + "/gunicorn_app.py:" +
                std::to_string(line_of(app_dir + "/gunicorn_app.py", "LEAK: gunicorn")));
  // The master has its own agent, and no leak.
  ASSERT_TRUE(std::filesystem::exists(agent_socket(memvisor, master)));
  const auto of_master = sample(memvisor, dir, {"web.1"}, "2s", "master.json");
  ASSERT_EQ(of_master.command.exit_code, 0) << of_master.command.err;
  EXPECT_EQ(of_master.report["pid"], master);
  for (const std::string& function : keys(of_master.report, "by_function", "function"))
    EXPECT_NE(function, "remember_worker_invoice");
}

TEST(PythonSample, OutputAndExitCodeAreTheSameWithTheAgent) {
  SKIP_WITHOUT_PYTHON();
  const std::vector<std::string> command{kPython,
                                         source_path("tests/runtimes/python/prints_and_exits.py")};
  const WorkerRun plain = run_worker_once(command, false);
  const WorkerRun sampled = run_worker_once(command, true);
  ASSERT_EQ(plain.code, 3) << plain.out << plain.err;
  EXPECT_NE(plain.out.find("child says hello"), std::string::npos) << plain.out;
  EXPECT_NE(plain.out.find("child exit: 7"), std::string::npos) << plain.out;
  EXPECT_EQ(sampled.code, plain.code);
  EXPECT_EQ(sampled.out, plain.out);
  EXPECT_EQ(sampled.err, plain.err);
}

TEST(PythonSample, IsolatedPythonIsOneClearErrorAtOnce) {
  SKIP_WITHOUT_PYTHON();
  PythonWorker worker({"-I", leaky_python(), "none"});
  ASSERT_GT(worker.pid, 0) << worker.memvisor->err();
  ASSERT_TRUE(eventually(
      [&] {
        return read_text("/proc/" + std::to_string(worker.pid) + "/cmdline").find("leaky") !=
               std::string::npos;
      },
      10s));
  const auto outcome = sample(*worker.memvisor, worker.dir, {"py.1"}, "30s", "isolated.json");
  EXPECT_EQ(outcome.command.exit_code, 1);
  EXPECT_NE(outcome.command.err.find("no Python agent in pid " + std::to_string(worker.pid)),
            std::string::npos)
      << outcome.command.err;
  EXPECT_NE(outcome.command.err.find("-I (isolated mode"), std::string::npos)
      << outcome.command.err;
  EXPECT_EQ(outcome.command.err.find("sampling py.1"), std::string::npos)  // never started waiting
      << outcome.command.err;
}

}  // namespace
}  // namespace memvisor::testing
