// Gauges end to end (README "Custom monitors", docs/worker-protocol.md "Gauges"): real memvisor,
// workers that report gauges over MEMVISOR_SOCKET (a Python one speaking the protocol by hand and
// the C example on the worker library), status and /metrics, bounds on a flooding worker,
// refusals, and rules on `gauge:NAME`.
#include <gtest/gtest.h>
#include <signal.h>

#include <thread>

#include <cstdlib>
#include <fstream>
#include <string>

#include "harness.h"
#include "http_client.h"

namespace memvisor::testing {
namespace {

std::string gauge_worker() {
  return source_path("tests/integration/workers/gauge_worker.py");
}

// A config with an HTTP endpoint on `port` and `services` (TOML tables) after it.
std::string with_http(int port, const std::string& services) {
  return "[supervisor]\nhttp = \"127.0.0.1:" + std::to_string(port) + "\"\n\n" + services;
}

std::string service(const std::string& name, const std::string& command, const std::string& extra) {
  return "[service." + name + "]\ncommand = " + command + "\ninterval = \"100ms\"\n" + extra + "\n";
}

std::string python_worker_command() {
  return "[\"python3\", \"" + gauge_worker() + "\"]";
}

// The status record of `service`.`number`'s current process (null when absent).
nlohmann::json instance_record(const nlohmann::json& status, const std::string& name, int number) {
  if (!status.is_object() || !status.contains("instances")) return nullptr;
  nlohmann::json found;
  for (const auto& record : status["instances"]) {
    if (record.value("service", "") == name && record.value("instance", 0) == number &&
        (found.is_null() || record.value("generation", 0) > found.value("generation", 0))) {
      found = record;
    }
  }
  return found;
}

// process_resident_memory_bytes{process="supervisor"} from a scrape; 0 when absent.
double supervisor_rss(const std::string& body) {
  const std::string key = "process_resident_memory_bytes{process=\"supervisor\"} ";
  const size_t at = body.find(key);
  return at == std::string::npos ? 0 : std::strtod(body.c_str() + at + key.size(), nullptr);
}

TEST(Gauges, AppearInStatusAndMetricsAndGoWithTheProcess) {
  TempDir dir;
  const int port = free_port();
  const std::string config = dir.write(
      "gauges.toml",
      with_http(port, service("web", python_worker_command(),
                              "env = { GAUGES = \"heap_used_bytes=5242880,queue_depth=3\", "
                              "GAUGE_EXIT_AFTER = \"4\" }\nrestart_delay = \"500ms\"")));
  Memvisor memvisor(dir, {config});
  nlohmann::json record;
  ASSERT_TRUE(eventually(
      [&] {
        record = instance_record(status_of(memvisor), "web", 1);
        return record.is_object() && record.value("gauges", nlohmann::json::object()).size() == 2;
      },
      20s))
      << record.dump() << memvisor.err();
  EXPECT_EQ(record["gauges"]["heap_used_bytes"], 5242880.0);
  EXPECT_EQ(record["gauges"]["queue_depth"], 3.0);
  std::string body;
  ASSERT_TRUE(eventually(
      [&] {
        body = scrape_metrics(port);
        return body.find("memvisor_worker_value{") != std::string::npos;
      },
      10s))
      << body;
  EXPECT_NE(body.find("memvisor_worker_value{service=\"web\",instance=\"1\",name=\"heap_used_"
                      "bytes\"} 5242880\n"),
            std::string::npos)
      << body;
  EXPECT_NE(body.find("# TYPE memvisor_worker_value gauge\n"), std::string::npos);
  // A worker never creates a metric family: the name is only a label value.
  EXPECT_EQ(body.find("\nheap_used_bytes"), std::string::npos);
  // promtool's lint has nothing to say with gauges reported either (the family was called
  // memvisor_worker_gauge, and "metric name should not include type 'gauge'").
  if (have_program("promtool")) {
    const std::string scrape = dir.write("scrape.txt", body);
    const CommandResult lint = run_shell("promtool check metrics < " + scrape);
    EXPECT_EQ(lint.out, "") << "promtool lint findings";
  }

  // Generation 1 exits after 4 s; generation 2 reports nothing: its gauges are gone.
  ASSERT_TRUE(eventually(
      [&] {
        record = instance_record(status_of(memvisor), "web", 1);
        return record.is_object() && record.value("generation", 0) >= 2 &&
               record.value("state", "") == "running";
      },
      30s))
      << record.dump();
  ASSERT_TRUE(eventually(
      [&] {
        body = scrape_metrics(port);
        return body.find("memvisor_worker_value{") == std::string::npos &&
               body.find("memvisor_instance_generation{service=\"web\",instance=\"1\"} 2") !=
                   std::string::npos;
      },
      10s))
      << body;
  record = instance_record(status_of(memvisor), "web", 1);
  EXPECT_EQ(record["gauges"], nlohmann::json::object()) << record.dump();
}

// The shipped Python example keeps its gauges coming through a supervisor restart: the
// supervisor closes its connection, and the example connects again (it died of EPIPE before).
TEST(Gauges, TheExampleWorkerReconnectsAfterTheSupervisorIsKilled) {
  TempDir dir;
  const std::string config = dir.write(
      "gauges.toml",
      service("jobs", "[\"python3\", \"" + source_path("examples/gauges/gauge_worker.py") + "\"]",
              "env = { QUEUE_DEPTH = \"7\" }"));
  Memvisor memvisor(dir, {config});
  auto has_depth = [&] {
    const auto record = instance_record(status_of(memvisor), "jobs", 1);
    return record.is_object() && record.contains("gauges") &&
           record["gauges"].value("queue_depth", 0.0) == 7.0;
  };
  ASSERT_TRUE(eventually(has_depth, 20s)) << memvisor.err();
  const nlohmann::json before = status_of(memvisor);
  const int supervisor = before.value("supervisor_pid", 0);
  ASSERT_GT(supervisor, 0);
  ASSERT_EQ(::kill(supervisor, SIGKILL), 0);
  ASSERT_TRUE(eventually(
      [&] {
        const nlohmann::json now = status_of(memvisor);
        return now.is_object() && now.value("supervisor_pid", 0) != 0 &&
               now.value("supervisor_pid", 0) != supervisor;
      },
      20s))
      << memvisor.err();
  std::this_thread::sleep_for(1500ms);  // past the example's first write on a closed socket
  EXPECT_TRUE(eventually(has_depth, 20s)) << memvisor.err();
  EXPECT_TRUE(memvisor.events("exited", "jobs.1").empty()) << memvisor.err();
}

TEST(Gauges, AFloodIsBounded) {
  TempDir dir;
  const int port = free_port();
  const std::string done = dir.file("flood.done");
  const std::string config = dir.write(
      "flood.toml",
      with_http(port, service("web", python_worker_command(),
                              "env = { GAUGE_MODE = \"flood\", GAUGE_DONE = \"" + done +
                                  "\", GAUGE_REPLIES = \"" + dir.file("replies.jsonl") + "\" }")));
  Memvisor memvisor(dir, {config});
  // Measured before the flood has much effect: the supervisor's own memory at its start.
  double before = 0;
  ASSERT_TRUE(eventually(
      [&] {
        before = supervisor_rss(scrape_metrics(port));
        return before > 0;
      },
      20s))
      << memvisor.err();
  // The daemon answers status all along; the latest value of `flood` wins.
  nlohmann::json record;
  int answered = 0;
  ASSERT_TRUE(eventually(
      [&] {
        record = instance_record(status_of(memvisor), "web", 1);
        if (record.is_object()) ++answered;
        return ::access(done.c_str(), F_OK) == 0 && record.is_object() &&
               record["gauges"].value("flood", -1.0) == 99999.0;
      },
      60s))
      << record.dump() << memvisor.err();
  EXPECT_GT(answered, 0);
  // At most 32 names: `flood` and the first 31 of the 1000 distinct ones.
  EXPECT_EQ(record["gauges"].size(), 32u) << record.dump();
  EXPECT_TRUE(record["gauges"].contains("g0"));
  EXPECT_FALSE(record["gauges"].contains("g31"));
  // One clear event (rate-limited: not one per refused name) and error lines to the worker,
  // a bounded number of them.
  auto events = memvisor.wait_events("gauge_rejected", 1, 10s);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].value("service", ""), "web");
  EXPECT_NE(events[0].value("error", "").find("too many gauges: at most 32"), std::string::npos)
      << events[0].dump();
  const std::string replies = read_text(dir.file("replies.jsonl"));
  size_t errors = 0;
  for (size_t at = 0; (at = replies.find("\"type\":\"error\"", at)) != std::string::npos; ++at) {
    ++errors;
  }
  EXPECT_GE(errors, 1u);
  EXPECT_LE(errors, 40u) << replies;
  // The supervisor's memory stays bounded: 100k lines and 1000 names leave no trace.
  double after = 0;
  ASSERT_TRUE(eventually(
      [&] {
        after = supervisor_rss(scrape_metrics(port));
        return after > 0;
      },
      10s));
#ifndef MEMVISOR_SANITIZED
  // Not under AddressSanitizer: its quarantine holds freed memory back (up to 256 MiB), so the
  // supervisor's RSS there says nothing about what it keeps.
  EXPECT_LT(after - before, 32.0 * (1 << 20)) << before << " -> " << after;
#endif
  std::cerr << "supervisor RSS " << before / (1 << 20) << " MiB before the flood, "
            << after / (1 << 20) << " MiB after\n";
  // Still responsive, still recording.
  EXPECT_TRUE(instance_record(status_of(memvisor), "web", 1).is_object());
}

// Lines that are not JSON (Python's json.dumps writes NaN) from a worker that never reads its
// socket: each got an error line, unbounded, until the send queue was full and the connection
// closed, losing its gauges. Error lines are bounded as gauge refusals are; the worker stays.
TEST(Gauges, AWorkerThatNeverReadsKeepsItsConnectionThroughAFloodOfBadLines) {
  TempDir dir;
  const std::string done = dir.file("deaf.done");
  const std::string config = dir.write(
      "deaf.toml", service("web", python_worker_command(),
                           "env = { GAUGE_MODE = \"deaf\", GAUGE_DONE = \"" + done + "\" }"));
  Memvisor memvisor(dir, {config});
  nlohmann::json record;
  ASSERT_TRUE(eventually(
      [&] {
        record = instance_record(status_of(memvisor), "web", 1);
        return ::access(done.c_str(), F_OK) == 0 && record.is_object() &&
               record["gauges"].value("alive", 0.0) == 1.0;
      },
      60s))
      << record.dump() << memvisor.err();
  std::this_thread::sleep_for(2s);
  record = instance_record(status_of(memvisor), "web", 1);
  EXPECT_EQ(record["gauges"].value("alive", 0.0), 1.0) << record.dump();
  EXPECT_EQ(memvisor.err().find("queue full"), std::string::npos) << memvisor.err();
}

TEST(Gauges, BadNamesAndValuesGetErrors) {
  TempDir dir;
  const std::string done = dir.file("bad.done");
  const std::string replies = dir.file("replies.jsonl");
  const std::string config =
      dir.write("bad.toml", service("web", python_worker_command(),
                                    "env = { GAUGE_MODE = \"bad\", GAUGE_DONE = \"" + done +
                                        "\", GAUGE_REPLIES = \"" + replies + "\" }"));
  Memvisor memvisor(dir, {config});
  nlohmann::json record;
  ASSERT_TRUE(eventually(
      [&] {
        record = instance_record(status_of(memvisor), "web", 1);
        return record.is_object() && record["gauges"].contains("fine_total");
      },
      20s))
      << record.dump() << memvisor.err();
  EXPECT_EQ(record["gauges"].size(), 1u) << record.dump();
  std::string text;
  ASSERT_TRUE(eventually(
      [&] {
        text = read_text(replies);
        size_t errors = 0;
        for (size_t at = 0; (at = text.find("\"type\":\"error\"", at)) != std::string::npos; ++at) {
          ++errors;
        }
        return errors >= 5;
      },
      10s))
      << text;
  EXPECT_NE(text.find("gauge needs \\\"name\\\" matching [a-zA-Z_:][a-zA-Z0-9_:]*"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("gauge 'text' needs \\\"value\\\", a finite number"), std::string::npos)
      << text;
  EXPECT_NE(text.find("gauge 'missing' needs \\\"value\\\""), std::string::npos) << text;
  // One event for the burst; the worker is still running, never disconnected.
  auto events = memvisor.wait_events("gauge_rejected", 1, 10s);
  ASSERT_GE(events.size(), 1u);
  EXPECT_EQ(memvisor.events("gauge_rejected").size(), 1u);
  EXPECT_EQ(record.value("generation", 0), 1);
  EXPECT_EQ(instance_record(status_of(memvisor), "web", 1)["worker"].value("connections", 0), 1);
}

TEST(Gauges, LimitOnAGaugeRecyclesAndWaitsForItsGauge) {
  TempDir dir;
  const std::string c_worker = MEMVISOR_C_QUEUE_WORKER;
  const std::string rule = "limit = { size = 1000, for = 2, metric = \"gauge:queue_depth\" }\n";
  const std::string config = dir.write(
      "queue.toml",
      service("stalled", "[\"" + c_worker + "\"]", rule + "env = { QUEUE_GROWTH = \"100\" }") +
          service("steady", "[\"" + c_worker + "\"]", rule + "env = { QUEUE_DEPTH = \"10\" }") +
          service("silent", "[\"sleep\", \"120\"]", rule));
  Memvisor memvisor(dir, {config});
  // The stalled queue passes 1000 within seconds and is recycled by the limit on its gauge.
  auto recycles = memvisor.wait_events("rule", 1, 30s, "stalled.1");
  ASSERT_EQ(recycles.size(), 1u) << memvisor.err();
  EXPECT_EQ(recycles[0].value("rule", ""), "limit");
  EXPECT_EQ(recycles[0].value("action", ""), "recycle");
  EXPECT_EQ(recycles[0].value("metric", ""), "gauge:queue_depth");
  EXPECT_GT(recycles[0].value("value", 0.0), 1000.0);
  EXPECT_NE(recycles[0].value("message", "").find("gauge:queue_depth"), std::string::npos);
  // Negative controls: a steady queue is never recycled; a worker that reports nothing is not
  // judged, and status says what the rule waits for.
  nlohmann::json record;
  ASSERT_TRUE(eventually(
      [&] {
        record = instance_record(status_of(memvisor), "silent", 1);
        return record.is_object() && record.contains("rules_waiting");
      },
      10s))
      << record.dump();
  EXPECT_EQ(record["rules_waiting"], nlohmann::json::array({"waiting for gauge queue_depth"}));
  const auto steady = instance_record(status_of(memvisor), "steady", 1);
  EXPECT_EQ(steady["gauges"].value("queue_depth", 0.0), 10.0) << steady.dump();
  EXPECT_FALSE(steady.contains("rules_waiting")) << steady.dump();
  EXPECT_TRUE(memvisor.events("rule", "steady.1").empty());
  EXPECT_TRUE(memvisor.events("rule", "silent.1").empty());
}

// The bundle of a rule on a gauge holds the gauge's series (memory.csv's gauge:NAME column), so
// what the rule saw is on disk, and `memvisor replay` of the bundle decides as the rule did.
TEST(Gauges, ABundleCarriesTheGaugesSeriesAndReplaysToTheSameDecision) {
  TempDir dir;
  const std::string c_worker = MEMVISOR_C_QUEUE_WORKER;
  const std::string config =
      dir.write("queue.toml", service("stalled", "[\"" + c_worker + "\"]",
                                      "critical = { size = 1000, metric = \"gauge:queue_depth\" }\n"
                                      "env = { QUEUE_GROWTH = \"100\" }"));
  Memvisor memvisor(dir, {config});
  const auto incidents = memvisor.wait_events("incident", 1, 30s, "stalled.1");
  ASSERT_EQ(incidents.size(), 1u) << memvisor.err();
  const std::string path = incidents[0].value("path", "");
  ASSERT_FALSE(path.empty()) << incidents[0].dump();

  const std::string csv = read_text(path + "/memory.csv");
  const std::string header = csv.substr(0, csv.find('\n'));
  EXPECT_EQ(header,
            "t_s,rss,pss,uss,swap,anon,gauge:queue_depth,gauge:queue_oldest_job_age_seconds");
  // The last row holds the value the rule acted on: past 1000.
  std::string last = csv.substr(0, csv.size() - 1);
  last = last.substr(last.rfind('\n') + 1);
  const std::string depth = last.substr(0, last.rfind(','));
  EXPECT_GT(std::stod(depth.substr(depth.rfind(',') + 1)), 1000.0) << csv;
  const std::string summary = read_text(path + "/summary.txt");
  EXPECT_NE(summary.find("gauges:     queue_depth "), std::string::npos) << summary;
  const auto json = nlohmann::json::parse(read_text(path + "/incident.json"));
  EXPECT_GT(json["gauges"].value("queue_depth", 0.0), 1000.0) << json.dump();

  const auto replayed = run_memvisor({"replay", path + "/memory.csv", "--config", config});
  EXPECT_EQ(replayed.exit_code, 0) << replayed.err;
  EXPECT_NE(replayed.out.find("\"rule\":\"critical\""), std::string::npos) << replayed.out;
  EXPECT_NE(replayed.out.find("\"metric\":\"gauge:queue_depth\""), std::string::npos)
      << replayed.out;
}

// Every process past its limit from its start (here a gauge that starts high): replacement-first
// recycles followed one another as fast as processes start (54 in 25 s in a trial). From the
// second in a row, a recycle waits a restart delay from the process's start, growing by
// restart_backoff; one process that runs min_uptime ends it.
TEST(Gauges, RecyclesOfProcessesPastTheirLimitFromTheStartBackOff) {
  TempDir dir;
  const std::string c_worker = MEMVISOR_C_QUEUE_WORKER;
  const std::string config = dir.write(
      "queue.toml", service("jammed", "[\"" + c_worker + "\"]",
                            "limit = { size = 1000, for = 1, metric = \"gauge:queue_depth\" }\n"
                            "env = { QUEUE_DEPTH = \"5000\" }\nrestart_delay = \"1s\"\n"
                            "restart_backoff = 2.0\nrestart_delay_max = \"1m\""));
  Memvisor memvisor(dir, {config});
  // Without the pause: a recycle every few tenths of a second. With it: at 0, then 1 s, 2 s and
  // 4 s after each process's start (about 7 s for 4 recycles).
  ASSERT_EQ(memvisor.wait_events("recycled", 2, 20s, "jammed.1").size(), 2u) << memvisor.err();
  std::this_thread::sleep_for(4s);
  const size_t recycled = memvisor.events("recycled", "jammed.1").size();
  EXPECT_LE(recycled, 5u) << memvisor.err();
  const auto deferred = memvisor.events("recycle_deferred", "jammed.1");
  ASSERT_GE(deferred.size(), 1u) << memvisor.err();
  EXPECT_NE(deferred[0].value("message", "").find("(2 in a row): recycling 1s after its start"),
            std::string::npos)
      << deferred[0].dump();
}

TEST(Gauges, ConfigErrorsForBadGaugeMetrics) {
  TempDir dir;
  const std::string bad_name = dir.write("bad_name.toml",
                                         "[service.web]\ncommand = [\"sleep\", \"1\"]\n"
                                         "limit = { size = 1000, metric = \"gauge:9lives\" }\n");
  CommandResult result = run_memvisor({"check", bad_name});
  EXPECT_EQ(result.exit_code, 2) << result.out << result.err;
  EXPECT_NE(result.err.find(bad_name + ":3:33: service.web.limit.metric: expected gauge:NAME "
                                       "with NAME matching [a-zA-Z_:][a-zA-Z0-9_:]*"),
            std::string::npos)
      << result.err;
  const std::string total =
      dir.write("total.toml",
                "[service.web]\ncommand = [\"sleep\", \"1\"]\n"
                "total = { size = \"1GiB\", metric = \"gauge:heap_used_bytes\" }\n");
  result = run_memvisor({"check", total});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("total.metric: the total rule sums memory over instances and cannot "
                            "read a gauge"),
            std::string::npos)
      << result.err;
  // A plain number is a size only on a gauge; on memory it still asks for the unit.
  const std::string unitless = dir.write(
      "unitless.toml", "[service.web]\ncommand = [\"sleep\", \"1\"]\nlimit = { size = 1000 }\n");
  result = run_memvisor({"check", unitless});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("write the unit"), std::string::npos) << result.err;
  // The good one passes.
  const std::string good =
      dir.write("good.toml",
                "[service.web]\ncommand = [\"sleep\", \"1\"]\nmetric = \"gauge:heap_used_bytes\"\n"
                "leak = \"10MiB/h\"\nlimit = { size = 1000, metric = \"gauge:queue_depth\" }\n");
  result = run_memvisor({"check", good});
  EXPECT_EQ(result.exit_code, 0) << result.err;
}

}  // namespace
}  // namespace memvisor::testing
