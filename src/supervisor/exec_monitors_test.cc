// ExecMonitors with real commands on a real event loop: values and their environment, a hung
// command killed with its process group, failures by reason, rate-limited events, and a run
// stopped with its process.
#include "supervisor/exec_monitors.h"

#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/config/config_json.h"
#include "os/test_temp_dir.h"

namespace memvisor {
namespace {

using namespace std::chrono_literals;

double steady_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// One service "web" whose instance 1 (generation 3) is this test process, with `monitors`.
struct Fixture {
  explicit Fixture(std::vector<MonitorConfig> monitors, ExecMonitors::Options options = {}) {
    auto created = EventLoop::create();
    EXPECT_TRUE(static_cast<bool>(created));
    loop.emplace(std::move(*created));
    Config config;
    config.source = "test";
    ServiceConfig& web = config.services.emplace_back();
    web.name = "web";
    web.command = {"app"};
    web.env["FROM_SERVICE"] = "yes";
    web.monitors = std::move(monitors);
    EXPECT_TRUE(fleet.apply({{"type", "snapshot"},
                             {"controller_pid", 1},
                             {"config", config_to_json(config)},
                             {"instances", nlohmann::json::array()}}));
    set_state("running");
    runner = std::make_unique<ExecMonitors>(
        *loop, fleet,
        [this](const ExecMonitors::Key& key, std::string_view name, double value, double) {
          values.push_back({key, std::string(name), value});
        },
        [this](nlohmann::json event) { events.push_back(std::move(event)); }, options);
    runner->update(steady_now());
  }

  void set_state(const std::string& state) {
    EXPECT_TRUE(fleet.apply({{"type", "event"},
                             {"event", "started"},
                             {"service", "web"},
                             {"instance", 1},
                             {"reason", "initial"},
                             {"generation", 3},
                             {"state",
                              {{"service", "web"},
                               {"instance", 1},
                               {"generation", 3},
                               {"pid", ::getpid()},
                               {"state", state}}}}));
  }

  template <class Until>
  void run_until(Until until, std::chrono::milliseconds limit = 20s) {
    const auto give_up = std::chrono::steady_clock::now() + limit;
    while (!until() && std::chrono::steady_clock::now() < give_up) (void)loop->run_once(50ms);
  }
  void run_for(std::chrono::milliseconds span) {
    run_until([] { return false; }, span);
  }

  struct Value {
    ExecMonitors::Key key;
    std::string name;
    double value;
  };
  std::optional<EventLoop> loop;
  FleetState fleet;
  std::unique_ptr<ExecMonitors> runner;
  std::vector<Value> values;
  std::vector<nlohmann::json> events;
};

MonitorConfig monitor(std::string name, std::vector<std::string> command, Millis interval = 10s,
                      Millis timeout = 5s) {
  return {std::move(name), std::move(command), interval, timeout};
}

TEST(ParseMonitorValue, NumbersAndSizesOnTheFirstLine) {
  EXPECT_EQ(parse_monitor_value("42\n"), 42.0);
  EXPECT_EQ(parse_monitor_value("  -1.5 \r\nignored"), -1.5);
  EXPECT_EQ(parse_monitor_value("+3e6"), 3e6);
  EXPECT_EQ(parse_monitor_value("12MiB\n"), 12.0 * 1024 * 1024);
  EXPECT_EQ(parse_monitor_value("2kB"), 2000.0);
  EXPECT_FALSE(parse_monitor_value(""));
  EXPECT_FALSE(parse_monitor_value("\n42"));  // the first line only
  EXPECT_FALSE(parse_monitor_value("42 items"));
  EXPECT_FALSE(parse_monitor_value("nan"));
  EXPECT_FALSE(parse_monitor_value("inf"));
  EXPECT_FALSE(parse_monitor_value("12 MiB"));
}

TEST(ExecMonitors, DeliversTheNumberWithTheInstancesEnvironment) {
  TestTempDir dir;
  const std::string env_file = dir.path() + "/env";
  Fixture f({monitor("queue_depth", {"/bin/sh", "-c",
                                     "echo \"$MEMVISOR_PID $MEMVISOR_SERVICE $MEMVISOR_INSTANCE "
                                     "$MEMVISOR_GENERATION $MEMVISOR_MONITOR $FROM_SERVICE\" > " +
                                         env_file + "; echo 17; echo not read"})});
  f.run_until([&] { return !f.values.empty(); });
  ASSERT_EQ(f.values.size(), 1u);
  EXPECT_EQ(f.values[0].key, (ExecMonitors::Key{"web", 1, 3}));
  EXPECT_EQ(f.values[0].name, "queue_depth");
  EXPECT_EQ(f.values[0].value, 17.0);
  EXPECT_EQ(read_text(env_file), std::to_string(::getpid()) + " web 1 3 queue_depth yes\n");
  EXPECT_TRUE(f.events.empty());
  EXPECT_EQ(f.runner->last({"web", 1, 3}).at("queue_depth").value, 17.0);
  EXPECT_EQ(f.runner->counters().at({"web", "queue_depth"}).runs, 1u);
}

TEST(ExecMonitors, KillsAHungCommandAndItsProcessGroupAtTheTimeout) {
  TestTempDir dir;
  const std::string pid_file = dir.path() + "/pid";
  Fixture f({monitor("slow", {"/bin/sh", "-c", "sleep 60 & echo $! > " + pid_file + "; wait"}, 10s,
                     300ms)});
  f.run_until([&] { return !f.events.empty(); });
  ASSERT_EQ(f.events.size(), 1u);
  EXPECT_EQ(f.events[0]["event"], "monitor_failed");
  EXPECT_EQ(f.events[0]["reason"], "timeout");
  EXPECT_EQ(f.events[0]["monitor"], "slow");
  EXPECT_EQ(f.events[0]["instance"], 1);
  const pid_t grandchild = std::stoi(read_text(pid_file));
  // Killed with the group; reaped by init once we no longer hold it (not our child).
  f.run_until([&] { return ::kill(grandchild, 0) != 0; }, 5s);
  EXPECT_NE(::kill(grandchild, 0), 0) << "the monitor's own child survived its timeout";
  EXPECT_TRUE(f.values.empty());
  EXPECT_EQ(f.runner->counters().at({"web", "slow"}).failures.at("timeout"), 1u);
}

TEST(ExecMonitors, FailuresByReasonWithStderrsFirstLine) {
  Fixture f({monitor("exits", {"/bin/sh", "-c", "echo first problem >&2; echo more >&2; exit 3"}),
             monitor("words", {"/bin/echo", "hello"}),
             monitor("missing", {"/nonexistent/monitor"})});
  f.run_until([&] { return f.events.size() >= 3; });
  ASSERT_EQ(f.events.size(), 3u);
  std::map<std::string, nlohmann::json> by_monitor;
  for (const auto& event : f.events) by_monitor[event["monitor"]] = event;
  EXPECT_EQ(by_monitor["exits"]["reason"], "exit");
  EXPECT_EQ(by_monitor["exits"]["stderr"], "first problem");
  EXPECT_NE(by_monitor["exits"]["message"].get<std::string>().find("exited with code 3"),
            std::string::npos);
  EXPECT_EQ(by_monitor["words"]["reason"], "not_a_number");
  EXPECT_NE(by_monitor["words"]["message"].get<std::string>().find("'hello'"), std::string::npos);
  EXPECT_EQ(by_monitor["missing"]["reason"], "exec");
  EXPECT_TRUE(f.values.empty());
}

TEST(ExecMonitors, ABrokenMonitorLogsItsFirstFailureThenSummaries) {
  ExecMonitors::Options options;
  options.first_window_s = 1;
  options.max_window_s = 60;
  Fixture f({monitor("broken", {"/bin/false"}, 100ms, 50ms)}, options);
  f.run_until([&] { return f.events.size() >= 2; });
  ASSERT_EQ(f.events.size(), 2u);
  EXPECT_FALSE(f.events[0].contains("suppressed"));
  ASSERT_TRUE(f.events[1].contains("suppressed"));
  const uint64_t suppressed = f.events[1]["suppressed"].get<uint64_t>();
  EXPECT_GE(suppressed, 1u);  // runs every 100 ms, a summary after 1 s at the earliest
  // Every failure is in the counters: the first, the ones summarised, the one that logged them.
  // Summed over reasons: on a loaded machine /bin/false can outlive its 50 ms and count as a
  // timeout rather than an exit.
  const auto failures = [&f] {
    uint64_t sum = 0;
    for (const auto& [reason, count] : f.runner->counters().at({"web", "broken"}).failures) {
      sum += count;
    }
    return sum;
  };
  EXPECT_EQ(failures(), suppressed + 2);
  // The next window is twice as long: nothing more for the next second.
  const uint64_t before = failures();
  f.run_for(1000ms);
  EXPECT_GT(failures(), before);
  EXPECT_EQ(f.events.size(), 2u);
}

TEST(ExecMonitors, ARunStopsWithItsProcess) {
  Fixture f({monitor("hangs", {"/bin/sleep", "60"}, 10s, 9s)});
  f.run_for(200ms);
  EXPECT_EQ(f.runner->running(), 1u);
  f.set_state("stopping");
  f.runner->update(steady_now());
  EXPECT_EQ(f.runner->running(), 0u);
  EXPECT_TRUE(f.events.empty());  // not a failure of the monitor
}

TEST(ExecMonitors, RunsEveryIntervalOnlyWhileRunning) {
  Fixture f({monitor("tick", {"/bin/echo", "1"}, 100ms, 50ms)});
  f.run_until([&] { return f.values.size() >= 3; });
  const size_t runs = f.values.size();
  EXPECT_GE(runs, 3u);
  f.set_state("stopping");
  f.runner->update(steady_now());
  f.run_for(400ms);
  EXPECT_EQ(f.values.size(), runs);
}

}  // namespace
}  // namespace memvisor
