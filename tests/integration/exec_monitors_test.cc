// Exec monitors end to end (README "Custom monitors" → "Exec monitors"): a real memvisor runs a
// monitor command per instance; its number becomes the instance's gauge in status and /metrics
// and feeds a `limit` on `gauge:NAME`; a hung command is killed at its timeout while the daemon
// keeps answering and sampling; a broken one gives rate-limited events; a reload changes it; bad
// monitors are refused with file:line:column.
#include <signal.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

#include "harness.h"
#include "http_client.h"

namespace memvisor::testing {
namespace {

// [supervisor] with HTTP on `port`, then one service "web" (a sleeping worker sampled every
// 100 ms) with `extra` lines.
std::string exec_config(int port, const std::string& extra) {
  return "[supervisor]\nhttp = \"127.0.0.1:" + std::to_string(port) +
         "\"\n\n[service.web]\ncommand = [\"sleep\", \"600\"]\ninterval = \"100ms\"\n"
         "restart_delay = \"200ms\"\n" +
         extra + "\n";
}

// A monitor that prints the number in `file` (and notes its MEMVISOR_PID beside it).
std::string exec_cat_monitor(const std::string& name, const std::string& file,
                             const std::string& interval = "500ms") {
  return "monitor = { name = \"" + name + "\", command = [\"/bin/sh\", \"-c\", \"echo " +
         "$MEMVISOR_PID $MEMVISOR_SERVICE $MEMVISOR_INSTANCE > " + file + ".env; cat " + file +
         "\"], interval = \"" + interval + "\", timeout = \"450ms\" }";
}

void exec_write_file(const std::string& path, const std::string& text) {
  std::ofstream(path + ".tmp") << text;
  std::rename((path + ".tmp").c_str(), path.c_str());
}

nlohmann::json exec_web_record(const Memvisor& memvisor) {
  const nlohmann::json status = status_of(memvisor);
  if (!status.is_object() || !status.contains("instances")) return nullptr;
  nlohmann::json found;
  for (const auto& record : status["instances"]) {
    if (record.value("service", "") == "web" && record.value("instance", 0) == 1 &&
        (found.is_null() || record.value("generation", 0) > found.value("generation", 0))) {
      found = record;
    }
  }
  return found;
}

double exec_gauge_of(const nlohmann::json& record, const std::string& name) {
  if (!record.is_object() || !record.contains("gauges")) return -1;
  return record["gauges"].value(name, -1.0);
}

TEST(ExecMonitors, ValueAppearsInStatusAndMetrics) {
  TempDir dir;
  const int port = free_port();
  const std::string depth = dir.file("depth");
  exec_write_file(depth, "7\n");
  Memvisor memvisor(
      dir, {dir.write("m.toml", exec_config(port, exec_cat_monitor("queue_depth", depth)))});
  nlohmann::json record;
  ASSERT_TRUE(eventually(
      [&] {
        record = exec_web_record(memvisor);
        return exec_gauge_of(record, "queue_depth") == 7;
      },
      20s))
      << record.dump() << memvisor.err();
  EXPECT_EQ(record["monitors"]["queue_depth"]["value"], 7.0) << record.dump();
  // The command saw the instance it measures.
  EXPECT_EQ(read_text(depth + ".env"), std::to_string(record.value("pid", 0)) + " web 1\n");
  std::string body;
  ASSERT_TRUE(eventually(
      [&] {
        body = scrape_metrics(port);
        return body.find("name=\"queue_depth\"} 7\n") != std::string::npos;
      },
      10s))
      << body;
  EXPECT_NE(body.find("memvisor_worker_value{service=\"web\",instance=\"1\",name=\"queue_depth\"} "
                      "7\n"),
            std::string::npos)
      << body;
  EXPECT_NE(body.find("memvisor_monitor_failures_total{service=\"web\",monitor=\"queue_depth\","
                      "reason=\"timeout\"} 0\n"),
            std::string::npos)
      << body;
  // A new value is picked up on the next run; a word is a failure, not a value.
  exec_write_file(depth, "12MiB\n");
  ASSERT_TRUE(eventually(
      [&] { return exec_gauge_of(exec_web_record(memvisor), "queue_depth") == 12582912; }, 10s));
  exec_write_file(depth, "lots\n");
  nlohmann::json failed;
  ASSERT_TRUE(eventually(
      [&] {
        for (const auto& event : memvisor.events("monitor_failed")) {
          if (event.value("reason", "") == "not_a_number") failed = event;
        }
        return failed.is_object();
      },
      10s))
      << memvisor.err();
  EXPECT_EQ(failed.value("monitor", ""), "queue_depth");
  EXPECT_EQ(failed.value("instance", 0), 1);
  EXPECT_NE(failed.value("message", "").find("'lots'"), std::string::npos) << failed.dump();
}

TEST(ExecMonitors, AHungMonitorIsKilledAndTheDaemonStaysResponsive) {
  TempDir dir;
  const int port = free_port();
  const std::string pids = dir.file("pids");
  Memvisor memvisor(
      dir, {dir.write("m.toml", exec_config(port,
                                            "monitor = { name = \"hangs\", command = [\"/bin/sh\", "
                                            "\"-c\", \"echo $$ >> " +
                                                pids + "; sleep 599 & echo $! >> " + pids +
                                                "; wait\"], interval = \"1s\", timeout = "
                                                "\"300ms\" }"))});
  nlohmann::json record;
  ASSERT_TRUE(eventually(
      [&] {
        record = exec_web_record(memvisor);
        return record.is_object() && record["memory"].is_object();
      },
      20s))
      << memvisor.err();
  const size_t samples_before = record["memory"].value("samples", size_t{0});
  // While monitors hang and are killed, every status request is answered and memory sampling
  // (every 100 ms) goes on: 3 s of it.
  int unanswered = 0;
  int answered = 0;
  const auto until = std::chrono::steady_clock::now() + 3s;
  while (std::chrono::steady_clock::now() < until) {
    record = exec_web_record(memvisor);
    (record.is_object() ? answered : unanswered)++;
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(unanswered, 0);
  EXPECT_GT(answered, 10);
  ASSERT_TRUE(record.is_object());
  EXPECT_GE(record["memory"].value("samples", size_t{0}), samples_before + 10) << record.dump();
  auto failed = memvisor.wait_events("monitor_failed", 1, 10s);
  ASSERT_GE(failed.size(), 1u) << memvisor.err();
  EXPECT_EQ(failed[0].value("reason", ""), "timeout");
  // Every run is gone at its timeout: its shell and the sleep it started (its process group).
  ASSERT_TRUE(eventually([&] { return read_text(pids).find('\n') != std::string::npos; }, 10s));
  std::istringstream started(read_text(pids));
  int runs = 0;
  for (pid_t pid = 0; started >> pid;) {
    ++runs;
    EXPECT_TRUE(eventually([&] { return !process_alive(pid); }, 5s)) << "run " << pid;
  }
  EXPECT_GE(runs, 4);  // two runs at least, each a shell and its sleep
  std::string body = scrape_metrics(port);
  EXPECT_NE(body.find("memvisor_monitor_failures_total{service=\"web\",monitor=\"hangs\","
                      "reason=\"timeout\"} "),
            std::string::npos)
      << body;
  EXPECT_EQ(body.find("reason=\"timeout\"} 0\n"), std::string::npos) << body;
}

TEST(ExecMonitors, ABrokenMonitorGivesRateLimitedEvents) {
  TempDir dir;
  const int port = free_port();
  Memvisor memvisor(dir,
                    {dir.write("m.toml", exec_config(port,
                                                     "monitor = { name = \"broken\", command = "
                                                     "[\"/bin/sh\", \"-c\", \"echo no database "
                                                     ">&2; exit 2\"], interval = \"500ms\", "
                                                     "timeout = \"450ms\" }"))});
  // The first failure at once; the next event is a summary, 10 s later at the earliest.
  auto failed = memvisor.wait_events("monitor_failed", 2, 30s);
  ASSERT_EQ(failed.size(), 2u) << memvisor.err();
  EXPECT_EQ(failed[0].value("reason", ""), "exit");
  EXPECT_EQ(failed[0].value("stderr", ""), "no database");
  EXPECT_NE(failed[0].value("message", "").find("exited with code 2"), std::string::npos);
  // memvisor's log names the monitor and quotes its stderr: without them the line read as the
  // worker's own exit.
  const std::string log = memvisor.err();
  const size_t line = log.find("web.1: monitor broken: ");
  ASSERT_NE(line, std::string::npos) << log;
  EXPECT_NE(log.substr(line, log.find('\n', line) - line)
                .find("exited with code 2 (stderr: no database) (pid"),
            std::string::npos)
      << log;
  EXPECT_FALSE(failed[0].contains("suppressed"));
  const uint64_t suppressed = failed[1].value("suppressed", uint64_t{0});
  // 2 runs a second for 10 s, not logged (the timeout leaves a loaded machine's shell time to
  // exit on its own, so every failure is an `exit`).
  EXPECT_GE(suppressed, 5u) << failed[1].dump();
  std::string body;
  ASSERT_TRUE(eventually(
      [&] {
        body = scrape_metrics(port);
        const std::string key =
            "memvisor_monitor_failures_total{service=\"web\",monitor=\"broken\",reason=\"exit\"} ";
        const size_t at = body.find(key);
        return at != std::string::npos &&
               std::strtoull(body.c_str() + at + key.size(), nullptr, 10) >= suppressed + 2;
      },
      10s))
      << body;
  EXPECT_EQ(memvisor.events("monitor_failed").size(), 2u);
}

TEST(ExecMonitors, ALimitOnTheMonitorsGaugeRecyclesTheInstance) {
  TempDir dir;
  const int port = free_port();
  // Each generation reads its own file: the replacement's queue is short from its first run.
  const std::string depth = dir.file("depth_");
  exec_write_file(depth + "1", "5\n");
  exec_write_file(depth + "2", "5\n");
  Memvisor memvisor(
      dir,
      {dir.write(
          "m.toml",
          exec_config(port,
                      "monitor = { name = \"queue_depth\", command = [\"/bin/sh\", "
                      "\"-c\", \"cat " +
                          depth +
                          "$MEMVISOR_GENERATION\"], interval = \"200ms\", timeout = \"190ms\" }\n"
                          "limit = { size = 1000, for = 2, metric = "
                          "\"gauge:queue_depth\" }"))});
  ASSERT_TRUE(
      eventually([&] { return exec_gauge_of(exec_web_record(memvisor), "queue_depth") == 5; }, 20s))
      << memvisor.err();
  // Negative control: below the limit for 2 s, nothing happens.
  std::this_thread::sleep_for(2s);
  EXPECT_TRUE(memvisor.events("rule").empty());
  EXPECT_EQ(exec_web_record(memvisor).value("generation", 0), 1);
  exec_write_file(depth + "1", "5000\n");
  auto rules = memvisor.wait_events("rule", 1, 20s, "web.1");
  ASSERT_EQ(rules.size(), 1u) << memvisor.err();
  EXPECT_EQ(rules[0].value("rule", ""), "limit");
  EXPECT_EQ(rules[0].value("action", ""), "recycle");
  EXPECT_EQ(rules[0].value("metric", ""), "gauge:queue_depth");
  EXPECT_EQ(rules[0].value("value", 0.0), 5000.0);
  nlohmann::json record;
  ASSERT_TRUE(eventually(
      [&] {
        record = exec_web_record(memvisor);
        return record.is_object() && record.value("generation", 0) == 2 &&
               exec_gauge_of(record, "queue_depth") == 5;
      },
      20s))
      << record.dump();
  for (const auto& rule : memvisor.events("rule")) {
    EXPECT_EQ(rule.value("generation", 0), 1) << rule.dump();  // the short queue is left alone
  }
}

TEST(ExecMonitors, AReloadChangesAMonitor) {
  TempDir dir;
  const int port = free_port();
  const std::string config =
      dir.write("m.toml", exec_config(port,
                                      "monitor = { name = \"answer\", command = [\"/bin/echo\", "
                                      "\"1\"], interval = \"200ms\" }"));
  Memvisor memvisor(dir, {config});
  ASSERT_TRUE(
      eventually([&] { return exec_gauge_of(exec_web_record(memvisor), "answer") == 1; }, 20s))
      << memvisor.err();
  dir.write("m.toml", exec_config(port,
                                  "monitor = { name = \"answer\", command = [\"/bin/echo\", "
                                  "\"2\"], interval = \"200ms\" }"));
  memvisor.signal(SIGHUP);
  nlohmann::json record;
  ASSERT_TRUE(eventually(
      [&] {
        record = exec_web_record(memvisor);
        return exec_gauge_of(record, "answer") == 2;
      },
      20s))
      << record.dump() << memvisor.err();
  EXPECT_EQ(record.value("generation", 0), 1);  // no worker replaced for a monitor
}

TEST(ExecMonitors, BadMonitorsAreRefusedWithFileLineColumn) {
  TempDir dir;
  const std::string bad = dir.write(
      "bad.toml",
      "[service.web]\ncommand = [\"sleep\", \"600\"]\n"
      "monitor = { name = \"depth\", command = [\"./d.sh\"], interval = \"1s\", timeout = \"2s\" "
      "}\n");
  CommandResult checked = run_memvisor({"check", bad});
  EXPECT_EQ(checked.exit_code, 2);
  EXPECT_NE(checked.err.find("bad.toml:3:78: service.web.monitor.timeout: expected a duration "
                             "shorter than the interval (1s), got 2s"),
            std::string::npos)
      << checked.err;
  const std::string bad_name =
      dir.write("name.toml",
                "[service.web]\ncommand = [\"sleep\", \"600\"]\n"
                "monitor = [ { name = \"ok\", command = [\"x\"] }, { name = \"queue depth\", "
                "command = [\"x\"] } ]\n");
  checked = run_memvisor({"check", bad_name});
  EXPECT_EQ(checked.exit_code, 2);
  EXPECT_NE(checked.err.find("name.toml:3:56: service.web.monitor[1].name: expected a gauge name"),
            std::string::npos)
      << checked.err;
  const std::string empty = dir.write(
      "empty.toml",
      "[service.web]\ncommand = [\"sleep\", \"600\"]\nmonitor = { name = \"a\", command = [] }\n");
  checked = run_memvisor({"check", empty});
  EXPECT_EQ(checked.exit_code, 2);
  EXPECT_NE(checked.err.find("empty.toml:3:35: service.web.monitor.command:"), std::string::npos)
      << checked.err;
  // Negative control: the same service with a good monitor is accepted, and `check` names it.
  const std::string good =
      dir.write("good.toml",
                "[service.web]\ncommand = [\"sleep\", \"600\"]\n"
                "monitor = { name = \"depth\", command = [\"./d.sh\"], interval = \"1s\" }\n");
  checked = run_memvisor({"check", good});
  EXPECT_EQ(checked.exit_code, 0) << checked.err;
  EXPECT_NE(checked.out.find("monitors depth/1s"), std::string::npos) << checked.out;
}

}  // namespace
}  // namespace memvisor::testing
