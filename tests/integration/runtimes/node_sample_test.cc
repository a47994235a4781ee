// `memvisor sample` of real Node.js workers under the real memvisor with heap_sampler = true:
// the leaking function and file:line on top (directly and behind Node's and V8's helpers), the
// inspector closed again afterwards, a clear error for a worker that handles SIGUSR1 itself, and
// the same output and exit code with and without the spawn-time setup.
#include <gtest/gtest.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>

#include "harness.h"
#include "runtimes/proc_listeners.h"

// A namespace of its own: the runtimes' tests are compiled as one unity file.
namespace memvisor::testing::node_sample {
namespace {

#define SKIP_WITHOUT_NODE() \
  if (!have_program("node")) GTEST_SKIP() << "node is not installed"

std::string node_program(const std::string& name) {
  return source_path("tests/runtimes/node/" + name);
}

nlohmann::json read_report(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in, nullptr, false);
}

// A config with one node service, [service.NAME] command = ["node", ARGS...].
std::string node_config(const TempDir& dir, const std::string& name,
                        const std::vector<std::string>& args, const std::string& extra) {
  std::string command = "[\"node\"";
  for (const std::string& arg : args) command += ", \"" + arg + "\"";
  command += "]";
  return dir.write(name + ".toml",
                   "[service." + name + "]\ncommand = " + command + "\n" + extra + "\n");
}

// The TCP ports the process listens on.
std::set<uint16_t> listening_ports(int pid) {
  std::set<uint16_t> ports;
  auto listeners = process_listeners(pid, "/proc");
  if (listeners)
    for (const auto& listener : *listeners) ports.insert(listener.port);
  return ports;
}

struct NodeService {
  NodeService(const std::string& name, const std::vector<std::string>& args,
              const std::string& extra = "heap_sampler = true")
      : memvisor(dir, {node_config(dir, name, args, extra)}) {}
  // The instance's pid once it printed its first line (its server is up).
  int wait_ready(const std::string& line) {
    if (memvisor.wait_events("started", 1, 10s).empty()) return 0;
    if (!eventually([&] { return memvisor.out().find(line) != std::string::npos; }, 15s)) return 0;
    return memvisor.events("started").at(0)["pid"];
  }
  CommandResult sample(const std::string& target, const std::string& out,
                       const std::vector<std::string>& more = {},
                       const std::string& duration = "3s") {
    std::vector<std::string> args = {"sample", target, "--duration",  duration,
                                     "--out",  out,    "--state-dir", memvisor.state_dir()};
    args.insert(args.end(), more.begin(), more.end());
    return run_memvisor(args, 60s);
  }
  TempDir dir;
  Memvisor memvisor;
};

TEST(NodeSample, TheLeakingFunctionIsOnTopInThreeRuns) {
  SKIP_WITHOUT_NODE();
  NodeService service("leaky", {node_program("leaky.js")});
  const int pid = service.wait_ready("leaky listening on");
  ASSERT_GT(pid, 0) << service.memvisor.out() << service.memvisor.err();
  const std::set<uint16_t> app_ports = listening_ports(pid);
  ASSERT_EQ(app_ports.size(), 1u);  // the app's own server
  const std::string location =
      node_program("leaky.js") + ":" +
      std::to_string(line_of(node_program("leaky.js"), "function rememberInvoice("));
  for (int run = 1; run <= 3; ++run) {
    const std::string out = service.dir.file("report" + std::to_string(run) + ".json");
    const auto result = service.sample("leaky.1", out);
    ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
    const nlohmann::json report = read_report(out);
    ASSERT_TRUE(report.is_object()) << run;
    EXPECT_EQ(report["runtime"], "node");
    EXPECT_FALSE(report["allocated_known"].get<bool>());
    ASSERT_FALSE(report["by_function"].empty()) << result.out;
    EXPECT_EQ(report["by_function"][0]["function"], "rememberInvoice") << run << "\n" << result.out;
    EXPECT_EQ(report["by_location"][0]["location"], location) << run << "\n" << result.out;
    // The app's module holds at least its leaking function's bytes. (Not necessarily first: on
    // a loaded machine fewer requests leak in the window, and Node's own modules together,
    // the inspector's among them, can retain more.)
    const auto retained_bytes = [](const nlohmann::json& entry) {
      return entry.value("retained", nlohmann::json::object()).value("bytes", 0.0);
    };
    double module_bytes = -1;
    for (const auto& module : report["by_module"]) {
      if (module.value("module", "") == "leaky.js") module_bytes = retained_bytes(module);
    }
    EXPECT_GE(module_bytes, retained_bytes(report["by_function"][0])) << run << "\n"
                                                                      << report["by_module"].dump();
    // The inspector is closed again: the worker listens on its own port alone, and runs on.
    EXPECT_TRUE(eventually([&] { return listening_ports(pid) == app_ports; }, 5s)) << run;
    EXPECT_TRUE(process_alive(pid));
  }
  EXPECT_EQ(service.memvisor.events("started").size(), 1u);
  // Node's own lines about its inspector: "Debugger attached." only (publish-uid=http).
  EXPECT_EQ(service.memvisor.err().find("Debugger listening"), std::string::npos);
}

TEST(NodeSample, WithoutTheLeakTheFunctionIsNotOnTop) {
  SKIP_WITHOUT_NODE();
  NodeService service("control", {node_program("leaky.js"), "--leak=none"});
  ASSERT_GT(service.wait_ready("leaky listening on"), 0) << service.memvisor.err();
  const std::string out = service.dir.file("control.json");
  const auto result = service.sample("control.1", out);
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  const nlohmann::json report = read_report(out);
  ASSERT_TRUE(report.is_object());
  // It may hold a request's worth in flight at the window's end, never the bulk. With ~25
  // samples in the control's small heap, that request may even come first (seen once in CI), so
  // the assertion is on the share, not the rank.
  const double total = report["total_retained"]["bytes"].get<double>();
  for (const auto& row : report["by_function"]) {
    if (row["function"] == "rememberInvoice") {
      EXPECT_LT(row["retained"]["bytes"].get<double>(), 0.5 * total) << result.out;
    }
  }
}

TEST(NodeSample, ALeakBehindNodeAndV8HelpersIsChargedToTheUsersFunction) {
  SKIP_WITHOUT_NODE();
  // subscribeClient leaks through EventEmitter.on (node:events) and Map.prototype.set (V8).
  NodeService service("helpers", {node_program("leaky.js"), "--leak=helpers"});
  ASSERT_GT(service.wait_ready("leaky listening on"), 0) << service.memvisor.err();
  const std::string out = service.dir.file("helpers.json");
  // 8 s: this leak is small per request (a closure and a Map entry), and a starved machine serves
  // few requests, so 3 s once saw 9 samples, a request's transient array on top (CI, under load).
  const auto result = service.sample("helpers.1", out, {}, "8s");
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  const nlohmann::json report = read_report(out);
  ASSERT_TRUE(report.is_object());
  ASSERT_FALSE(report["by_function"].empty()) << result.out;
  EXPECT_EQ(report["by_function"][0]["function"], "subscribeClient") << result.out;
  EXPECT_EQ(report["by_location"][0]["location"],
            node_program("leaky.js") + ":" +
                std::to_string(line_of(node_program("leaky.js"), "function subscribeClient(")));
  // The helpers' own frames are in the stacks, not charged for the leak. A sample whose stack has
  // no frame of the program's at all (V8's Map growing in a microtask) is charged to V8's
  // innermost function by design, and CI saw one such `set` row once: it may be there, never
  // with a share of the leak.
  const double leak = report["by_function"][0]["retained"]["bytes"].get<double>();
  for (const auto& row : report["by_function"]) {
    if (row["function"] == "set" || row["function"] == "_addListener") {
      EXPECT_LT(row["retained"]["bytes"].get<double>(), 0.05 * leak) << result.out;
    }
  }
}

TEST(NodeSample, AWorkerThatHandlesSigusr1GivesAClearErrorAndRunsOn) {
  SKIP_WITHOUT_NODE();
  NodeService service("trap", {node_program("trap_sigusr1.js")});
  const int pid = service.wait_ready("trap ready");
  ASSERT_GT(pid, 0) << service.memvisor.err();
  const auto result = service.sample("trap.1", service.dir.file("trap.json"));
  EXPECT_EQ(result.exit_code, 1) << result.out;
  EXPECT_NE(result.err.find("node pid " + std::to_string(pid) +
                            " did not open its inspector within 5s of SIGUSR1 (the app may "
                            "handle SIGUSR1 itself"),
            std::string::npos)
      << result.err;
  // The app's handler got the signal (its behaviour, not ours), and it keeps running.
  EXPECT_TRUE(eventually(
      [&] { return service.memvisor.out().find("app handled SIGUSR1 1") != std::string::npos; },
      5s));
  EXPECT_TRUE(process_alive(pid));
  EXPECT_EQ(service.memvisor.events("started").size(), 1u);
}

TEST(NodeSample, AProcessThatIsNotNodeIsRefusedWithoutASignal) {
  SKIP_WITHOUT_NODE();
  TempDir dir;
  Memvisor memvisor(dir, {"--name", "plain", "--", "sleep", "600"});
  ASSERT_EQ(memvisor.wait_events("started", 1, 10s).size(), 1u) << memvisor.err();
  const int pid = memvisor.events("started").at(0)["pid"];
  const auto result = run_memvisor({"sample", "plain.1", "--runtime", "node", "--duration", "1s",
                                    "--state-dir", memvisor.state_dir()});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("pid " + std::to_string(pid) + " is not a Node.js process"),
            std::string::npos)
      << result.err;
  EXPECT_TRUE(process_alive(pid));  // SIGUSR1 would have ended sleep
}

TEST(NodeSample, AnInspectorLeftOpenByAKilledSampleIsUsedAndClosed) {
  SKIP_WITHOUT_NODE();
  NodeService service("left", {node_program("leaky.js")});
  const int pid = service.wait_ready("leaky listening on");
  ASSERT_GT(pid, 0) << service.memvisor.err();
  const std::set<uint16_t> app_ports = listening_ports(pid);
  // A sample killed in its window (as the supervisor's child is at its timeout) cannot close
  // the inspector.
  const std::string killed = "timeout -s KILL 2 " + std::string(MEMVISOR_BINARY) +
                             " sample left.1 --duration 30s --out /dev/null --state-dir " +
                             service.memvisor.state_dir() + " 2>/dev/null";
  EXPECT_NE(std::system(killed.c_str()), 0);
  ASSERT_EQ(listening_ports(pid).size(), app_ports.size() + 1);
  const std::string out = service.dir.file("left.json");
  const auto result = service.sample("left.1", out);
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_NE(result.out.find("the inspector was already open on 127.0.0.1:"), std::string::npos)
      << result.out;
  EXPECT_EQ(read_report(out)["by_function"][0]["function"], "rememberInvoice") << result.out;
  EXPECT_TRUE(eventually([&] { return listening_ports(pid) == app_ports; }, 5s));
}

TEST(NodeSample, AWorkerThatExitsInTheWindowIsLeftAtOnce) {
  SKIP_WITHOUT_NODE();
  NodeService service("ends", {node_program("ends_soon.js")},
                      "heap_sampler = true\nrestart = \"never\"");
  ASSERT_GT(service.wait_ready("ends soon"), 0) << service.memvisor.err();
  // A 60 s window; the worker ends after 2 s and waits for attached debuggers: the sample must
  // leave then, well before the command's 30 s limit here.
  const auto result =
      run_memvisor({"sample", "ends.1", "--duration", "60s", "--out", service.dir.file("ends.json"),
                    "--state-dir", service.memvisor.state_dir()},
                   30s);
  EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
  EXPECT_NE(result.err.find("began to exit"), std::string::npos) << result.err;
  const auto exited = service.memvisor.wait_events("exited", 1, 10s);
  ASSERT_EQ(exited.size(), 1u) << service.memvisor.err();
  EXPECT_EQ(exited[0]["code"], 0);
}

// The log and the exit status of one run of prints_and_exits.js under memvisor.
std::pair<std::string, std::string> run_once(const std::string& heap_sampler) {
  TempDir dir;
  const std::string config =
      node_config(dir, "once", {node_program("prints_and_exits.js"), "a", "b"},
                  "restart = \"never\"\noutput = \"file\"\nlog_dir = \"" + dir.file("logs") +
                      "\"\nheap_sampler = " + heap_sampler);
  Memvisor memvisor(dir, {config});
  const auto exited = memvisor.wait_events("exited", 1, 20s);
  if (exited.empty()) return {"no exit: " + memvisor.err(), ""};
  return {read_text(dir.file("logs/once.1.log")), exited[0].dump()};
}

TEST(NodeSample, OutputAndExitCodeAreTheSameWithTheSpawnTimeSetup) {
  SKIP_WITHOUT_NODE();
  const auto [plain_log, plain_exit] = run_once("false");
  const auto [setup_log, setup_exit] = run_once("true");
  EXPECT_NE(plain_log.find("stdout line a b"), std::string::npos) << plain_log;
  EXPECT_NE(plain_log.find("inspector url: none"), std::string::npos) << plain_log;
  EXPECT_EQ(setup_log, plain_log);
  const auto plain = nlohmann::json::parse(plain_exit, nullptr, false);
  const auto setup = nlohmann::json::parse(setup_exit, nullptr, false);
  ASSERT_TRUE(plain.is_object() && setup.is_object()) << plain_exit << setup_exit;
  EXPECT_EQ(plain["code"], 3) << plain_exit;
  EXPECT_EQ(setup["code"], plain["code"]);
  EXPECT_EQ(setup["message"], plain["message"]);
}

}  // namespace
}  // namespace memvisor::testing::node_sample
