// A real Prometheus server scraping a real memvisor, and /metrics across a supervisor crash.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <iostream>

#include "harness.h"
#include "http_client.h"

namespace memvisor::testing {
namespace {

// prometheus in the background, killed at the end of the test.
class PrometheusServer {
 public:
  PrometheusServer(const TempDir& dir, int port, int target_port) {
    const std::string config =
        dir.write("prometheus.yml",
                  "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                  "scrape_configs:\n  - job_name: memvisor\n    static_configs:\n"
                  "      - targets: ['127.0.0.1:" +
                      std::to_string(target_port) + "']\n");
    const std::string log = dir.file("prometheus.log");
    std::vector<std::string> args = {"prometheus", "--config.file=" + config,
                                     "--storage.tsdb.path=" + dir.file("tsdb"),
                                     "--web.listen-address=127.0.0.1:" + std::to_string(port)};
    pid_ = ::fork();
    if (pid_ == 0) {
      FILE* out = ::freopen(log.c_str(), "w", stderr);
      (void)out;
      ::dup2(STDERR_FILENO, STDOUT_FILENO);
      std::vector<char*> argv;
      for (auto& arg : args) argv.push_back(arg.data());
      argv.push_back(nullptr);
      ::execvp(argv[0], argv.data());
      ::_exit(127);
    }
    log_ = log;
  }
  ~PrometheusServer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  std::string log() const { return read_text(log_); }

 private:
  pid_t pid_ = -1;
  std::string log_;
};

TEST(HttpPrometheus, ARealPrometheusScrapesTheSeries) {
  if (!have_program("prometheus")) {
    GTEST_SKIP() << "prometheus not installed (Debian package prometheus): nothing to scrape with";
  }
  TempDir dir;
  const int port = free_port();
  Memvisor memvisor(dir, {"--http", "127.0.0.1:" + std::to_string(port), "--name", "web",
                          "--instances", "2", "--interval", "200ms", "--", "sleep", "300"});
  const int prometheus_port = free_port();
  PrometheusServer prometheus(dir, prometheus_port, port);

  // Ask Prometheus, not memvisor: the series must have gone through a scrape into its storage.
  const std::string query =
      "/api/v1/"
      "query?query=memvisor_instance_memory_bytes%7Bservice%3D%22web%22%2Ckind%3D%22pss%22%7D";
  nlohmann::json answer;
  const bool found = eventually(
      [&] {
        auto reply = http_get(prometheus_port, query, 2s);
        if (!reply || reply->status != 200) return false;
        answer = nlohmann::json::parse(reply->body, nullptr, false);
        return !answer.is_discarded() && answer.value("status", "") == "success" &&
               answer["data"]["result"].size() == 2;
      },
      90s);
  ASSERT_TRUE(found) << answer.dump() << "\nprometheus log:\n" << prometheus.log();
  for (const auto& series : answer["data"]["result"]) {
    EXPECT_EQ(series["metric"]["job"], "memvisor");
    EXPECT_EQ(series["metric"]["service"], "web");
    const double bytes = std::stod(series["value"][1].get<std::string>());
    EXPECT_GT(bytes, 0) << series.dump();  // a live `sleep` has some PSS
  }
  // Prometheus's own view of the target: up.
  auto up = http_get(prometheus_port, "/api/v1/query?query=up%7Bjob%3D%22memvisor%22%7D", 2s);
  ASSERT_TRUE(up.has_value());
  auto up_json = nlohmann::json::parse(up->body);
  ASSERT_EQ(up_json["data"]["result"].size(), 1u) << up->body;
  EXPECT_EQ(up_json["data"]["result"][0]["value"][1], "1");
}

TEST(HttpPrometheus, MetricsAnswerAgainSoonAfterTheSupervisorIsKilled) {
  TempDir dir;
  const int port = free_port();
  Memvisor memvisor(dir, {"--http", "127.0.0.1:" + std::to_string(port), "--name", "web",
                          "--instances", "2", "--interval", "100ms", "--", "sleep", "300"});
  nlohmann::json before;
  // Both workers started (pids known) and the endpoint serving.
  ASSERT_TRUE(eventually(
      [&] {
        before = memvisor.status();
        if (before.is_null() || before["instances"].size() != 2) return false;
        for (const auto& instance : before["instances"]) {
          if (instance.value("pid", 0) == 0) return false;
        }
        auto reply = http_get(port, "/metrics");
        return reply && reply->status == 200;
      },
      20s))
      << memvisor.err();
  ASSERT_EQ(before["instances"].size(), 2u);

  const auto killed_at = std::chrono::steady_clock::now();
  ASSERT_EQ(::kill(before["supervisor_pid"].get<int>(), SIGKILL), 0);
  // Answered by the new supervisor, with the workers it learnt from the controller.
  std::optional<HttpReply> reply;
  const std::string series = "memvisor_instance_up{service=\"web\",instance=\"2\"} 1\n";
  ASSERT_TRUE(eventually(
      [&] {
        reply = http_get(port, "/metrics", 1s);
        return reply && reply->status == 200 && reply->body.find(series) != std::string::npos &&
               memvisor.events("supervisor_started").size() == 2;
      },
      30s))
      << memvisor.err();
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - killed_at).count();
  std::cout << "/metrics answered again " << seconds << " s after kill -9 of the supervisor\n";
  RecordProperty("metrics_back_after_kill_s", std::to_string(seconds));
  EXPECT_LT(seconds, 10.0);

  const nlohmann::json after = memvisor.status();
  ASSERT_FALSE(after.is_null());
  EXPECT_NE(after["supervisor_pid"], before["supervisor_pid"]);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_EQ(after["instances"][i]["pid"], before["instances"][i]["pid"]);
    EXPECT_TRUE(process_alive(after["instances"][i]["pid"].get<int>()));
  }
  EXPECT_EQ(memvisor.events("started").size(), 2u);  // no worker was restarted
}

}  // namespace
}  // namespace memvisor::testing
