// The HTTP endpoint of a real memvisor: /metrics checked by promtool and scraped by a real
// Prometheus, /health following the fleet, /status equal to `memvisor status --json`.
#include <gtest/gtest.h>
#include <signal.h>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>

#include <thread>

#include "harness.h"
#include "http_client.h"

namespace memvisor::testing {
namespace {

std::string address(int port) {
  return "127.0.0.1:" + std::to_string(port);
}

// The scrape once every instance of `instances` has been measured.
std::string scrape_when_measured(int port, int instances) {
  std::string body;
  eventually(
      [&] {
        auto reply = http_get(port, "/metrics");
        if (!reply || reply->status != 200) return false;
        body = reply->body;
        int measured = 0;
        for (size_t at = 0; (at = body.find("kind=\"pss\"}", at)) != std::string::npos; ++at) {
          ++measured;
        }
        return measured >= instances + 1;  // each instance and the service total
      },
      20s);
  return body;
}

TEST(Http, MetricsPassPromtoolAndCarryTheFleet) {
  if (!have_program("promtool"))
    GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
  TempDir dir;
  const int port = free_port();
  Memvisor memvisor(dir, {"--http", address(port), "--name", "web", "--instances", "2",
                          "--interval", "100ms", "--", "sleep", "120"});
  const std::string body = scrape_when_measured(port, 2);
  ASSERT_NE(body.find("memvisor_service_memory_bytes{service=\"web\",kind=\"pss\"}"),
            std::string::npos)
      << body << memvisor.err();
  for (const char* line :
       {"memvisor_instance_up{service=\"web\",instance=\"1\"} 1\n",
        "memvisor_instance_ready{service=\"web\",instance=\"2\"} 1\n",
        "memvisor_instance_generation{service=\"web\",instance=\"1\"} 1\n",
        "memvisor_service_ready_instances{service=\"web\"} 2\n",
        "memvisor_service_desired_instances{service=\"web\"} 2\n",
        "memvisor_instance_memory_bytes{service=\"web\",instance=\"1\",kind=\"rss\"} ",
        "memvisor_instance_uptime_seconds{service=\"web\",instance=\"2\"} ",
        "process_resident_memory_bytes{process=\"controller\"} ",
        "process_resident_memory_bytes{process=\"supervisor\"} ",
        "process_cpu_seconds_total{process=\"controller\"} ",
        "process_start_time_seconds{process=\"supervisor\"} "}) {
    EXPECT_NE(body.find(line), std::string::npos) << "missing: " << line << "\n" << body;
  }
  const std::string scrape = dir.write("scrape.txt", body);
  const CommandResult check = run_shell("promtool check metrics < " + scrape);
  EXPECT_EQ(check.exit_code, 0) << check.out << "\n" << body;
  EXPECT_EQ(check.out, "") << "promtool lint findings:\n" << check.out;

  auto reply = http_get(port, "/metrics");
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->content_type, "text/plain; version=0.0.4; charset=utf-8");
}

TEST(Http, PreforkChildrenPassPromtool) {
  if (!have_program("promtool"))
    GTEST_SKIP() << "promtool not installed (Debian package prometheus)";
  TempDir dir;
  const int port = free_port();
  Memvisor memvisor(
      dir,
      {"--http", address(port), "--name", "web", "--prefork", "--interval", "100ms", "--leak",
       "1GiB/h", "--", "python3", source_path("tests/integration/workers/prefork_master.py")},
      {}, {"PREFORK_WORKERS=2"});
  // The master, its two children and the service total.
  const std::string body = scrape_when_measured(port, 3);
  for (const char* line :
       {"# TYPE memvisor_child_memory_bytes gauge\n",
        "# TYPE memvisor_child_uptime_seconds gauge\n",
        "memvisor_instance_memory_bytes{service=\"web\",instance=\"1\",kind=\"pss\"} "}) {
    EXPECT_NE(body.find(line), std::string::npos) << "missing: " << line << "\n" << body;
  }
  const nlohmann::json status = memvisor.status();
  ASSERT_TRUE(status.is_object());
  for (const auto& child : status["instances"][0]["children"]) {
    const std::string labels =
        "{service=\"web\",instance=\"1\",child=\"" + std::to_string(child["pid"].get<int>()) + "\"";
    EXPECT_NE(body.find("memvisor_child_memory_bytes" + labels + ",kind=\"rss\"} "),
              std::string::npos)
        << labels << "\n"
        << body;
  }
  const std::string scrape = dir.write("scrape.txt", body);
  const CommandResult check = run_shell("promtool check metrics < " + scrape);
  EXPECT_EQ(check.exit_code, 0) << check.out << "\n" << body;
  EXPECT_EQ(check.out, "") << "promtool lint findings:\n" << check.out;
}

TEST(Http, RestartsAreCountedByReason) {
  TempDir dir;
  const int port = free_port();
  Memvisor memvisor(dir, {"--http", address(port), "--name", "web", "--restart-delay", "100ms",
                          "--", "sleep", "120"});
  ASSERT_EQ(memvisor.wait_events("started", 1, 10s).size(), 1u) << memvisor.err();
  const int pid = memvisor.wait_events("started", 1, 10s)[0]["pid"];
  ::kill(pid, SIGKILL);
  ASSERT_EQ(memvisor.wait_events("started", 2, 10s).size(), 2u) << memvisor.err();
  const std::string reason = memvisor.events("started")[1]["reason"];
  const std::string line =
      "memvisor_instance_restarts_total{service=\"web\",instance=\"1\",reason=\"" + reason +
      "\"} 1\n";
  std::string body;
  EXPECT_TRUE(eventually(
      [&] {
        auto reply = http_get(port, "/metrics");
        body = reply ? reply->body : "";
        return body.find(line) != std::string::npos;
      },
      10s))
      << "missing: " << line << body;
  EXPECT_NE(body.find("memvisor_instance_generation{service=\"web\",instance=\"1\"} 2\n"),
            std::string::npos);
}

TEST(Http, HealthFollowsReadiness) {
  TempDir dir;
  const int port = free_port();
  Memvisor memvisor(dir, {"--http", address(port), "--name", "web", "--instances", "2",
                          "--restart-delay", "3s", "--", "sleep", "120"});
  std::optional<HttpReply> health;
  ASSERT_TRUE(eventually(
      [&] { return (health = http_get(port, "/health")) && health->status == 200; }, 20s))
      << memvisor.err();
  EXPECT_EQ(health->body, "ok: 1 service, 2/2 instances ready\n");

  const int victim = memvisor.wait_events("started", 2, 10s)[1]["pid"];
  const int number = memvisor.wait_events("started", 2, 10s)[1]["instance"];
  ::kill(victim, SIGKILL);
  ASSERT_TRUE(eventually(
      [&] { return (health = http_get(port, "/health")) && health->status == 503; }, 10s));
  EXPECT_EQ(health->body.rfind("web: 1/2 ready (1 not ready: web." + std::to_string(number), 0), 0u)
      << health->body;
  // Back once the restart delay is over and the new process runs.
  EXPECT_TRUE(eventually(
      [&] { return (health = http_get(port, "/health")) && health->status == 200; }, 20s))
      << (health ? health->body : "no answer");
}

// An instance down as asked is not missing: `memvisor stop web.2`, a one-shot's clean exit under
// restart = "on-failure". A crash under restart = "never" is. (/health was 503 for good after
// either of the first two, and the shipped Kubernetes probes restarted the pod.)
TEST(Http, HealthLeavesOutInstancesStoppedOnPurpose) {
  TempDir dir;
  const int port = free_port();
  const std::string config = dir.write(
      "health.toml", "[supervisor]\nhttp = \"" + address(port) +
                         "\"\n[service.web]\ncommand = [\"sleep\", \"120\"]\ninstances = 2\n"
                         "[service.job]\ncommand = [\"true\"]\nrestart = \"on-failure\"\n");
  Memvisor memvisor(dir, {config});
  ASSERT_EQ(memvisor.wait_events("stopped", 1, 20s, "job.1").size(), 1u) << memvisor.err();
  ASSERT_EQ(run_memvisor({"stop", "web.2", "--state-dir", memvisor.state_dir()}).exit_code, 0);
  ASSERT_EQ(memvisor.wait_events("stopped", 1, 20s, "web.2").size(), 1u) << memvisor.err();
  std::optional<HttpReply> health;
  auto healthy_with = [&](const std::string& body) {
    return eventually(
        [&] {
          return (health = http_get(port, "/health")) && health->status == 200 &&
                 health->body == body;
        },
        20s);
  };
  EXPECT_TRUE(healthy_with("ok: 2 services, 1/1 instances ready\n"))
      << (health ? health->body : "no answer");

  // Started again, it counts again.
  ASSERT_EQ(run_memvisor({"start", "web.2", "--state-dir", memvisor.state_dir()}).exit_code, 0);
  EXPECT_TRUE(healthy_with("ok: 2 services, 2/2 instances ready\n"))
      << (health ? health->body : "no answer");
}

// The negative control: a crash that restart = "never" leaves stopped is missing capacity.
TEST(Http, HealthCountsACrashLeftStopped) {
  TempDir dir;
  const int port = free_port();
  Memvisor memvisor(dir, {"--http", address(port), "--name", "job", "--restart", "never", "--",
                          "sh", "-c", "exit 3"});
  ASSERT_EQ(memvisor.wait_events("stopped", 1, 20s, "job.1").size(), 1u) << memvisor.err();
  std::optional<HttpReply> health;
  EXPECT_TRUE(eventually(
      [&] { return (health = http_get(port, "/health")) && health->status == 503; }, 20s))
      << (health ? health->body : "no answer");
}

TEST(Http, StatusIsTheStatusCommandsJson) {
  TempDir dir;
  const int port = free_port();
  Memvisor memvisor(dir, {"--http", address(port), "--name", "web", "--instances", "2",
                          "--interval", "100ms", "--", "sleep", "120"});
  scrape_when_measured(port, 2);
  const nlohmann::json cli = memvisor.status();
  ASSERT_FALSE(cli.is_null()) << memvisor.err();
  auto reply = http_get(port, "/status");
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->content_type, "application/json");
  nlohmann::json http = nlohmann::json::parse(reply->body);
  // Uptime and the latest memory sample move between the two requests; the rest is identical.
  for (auto* status : {&http, const_cast<nlohmann::json*>(&cli)}) {
    for (auto& record : (*status)["instances"]) {
      ASSERT_TRUE(record.contains("uptime_s"));
      ASSERT_TRUE(record["memory"].is_object()) << record.dump();
      record.erase("uptime_s");
      record.erase("memory");
    }
  }
  EXPECT_EQ(http, cli);
}

TEST(Http, UnknownPathsAndMethods) {
  TempDir dir;
  const int port = free_port();
  Memvisor memvisor(dir, {"--http", address(port), "--name", "web", "--", "sleep", "120"});
  std::optional<HttpReply> reply;
  ASSERT_TRUE(eventually([&] { return (reply = http_get(port, "/nope")).has_value(); }, 20s));
  EXPECT_EQ(reply->status, 404);
  EXPECT_EQ(reply->body, "not found; try /metrics, /health or /status\n");
}

// The series are built only while something asks for them: after a pause the first answer is
// `pending`, never the series kept from before the pause (they were served as if current,
// minutes old, to a one-off curl), and the next ones are current.
TEST(Http, SeriesAfterAPauseAreNeverOld) {
  TempDir dir;
  const int port = free_port();
  ASSERT_GT(port, 0);
  Memvisor memvisor(dir, {"--http", "127.0.0.1:" + std::to_string(port), "--interval", "200ms",
                          "--name", "web", "--", "sleep", "300"});
  auto series = [&] {
    auto reply = http_get(port, "/api/series");
    return reply ? nlohmann::json::parse(reply->body, nullptr, false) : nlohmann::json();
  };
  auto wall = [] {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  nlohmann::json answer;
  ASSERT_TRUE(eventually(
      [&] {
        answer = series();
        return answer.is_object() && !answer.value("pending", false) && answer.contains("now");
      },
      15s))
      << answer.dump() << memvisor.err();
  // Past the 30 s the series are built for after a request: the ones kept from then are about
  // 8 s old by now (and older the longer the pause), and must not be served.
  std::this_thread::sleep_for(38s);
  answer = series();
  ASSERT_TRUE(answer.is_object()) << answer.dump();
  const bool pending = answer.value("pending", false);
  EXPECT_TRUE(pending || wall() - answer.value("now", 0.0) < 4)
      << "served " << wall() - answer.value("now", 0.0)
      << " s old: " << answer.dump().substr(0, 200);
  EXPECT_TRUE(eventually(
      [&] {
        answer = series();
        return answer.is_object() && !answer.value("pending", false) &&
               wall() - answer.value("now", 0.0) < 5;
      },
      10s))
      << answer.dump();
}

TEST(Http, OffUnlessAsked) {
  TempDir dir;
  const int port = free_port();
  Memvisor memvisor(dir, {"--name", "web", "--", "sleep", "120"});
  ASSERT_EQ(memvisor.wait_events("started", 1, 10s).size(), 1u);
  ASSERT_TRUE(eventually([&] { return !memvisor.status().is_null(); }, 10s));
  EXPECT_EQ(connect_loopback(port), -1);
  EXPECT_EQ(memvisor.err().find("serving /metrics"), std::string::npos);
}

TEST(Http, AnAddressInUseIsRetriedWhileTheRulesRun) {
  TempDir dir;
  const int port = free_port();
  const int squatter = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);  // not inherited
  sockaddr_in at{};
  at.sin_family = AF_INET;
  at.sin_port = htons(static_cast<uint16_t>(port));
  at.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(squatter, reinterpret_cast<sockaddr*>(&at), sizeof at), 0);
  ASSERT_EQ(::listen(squatter, 1), 0);
  Memvisor memvisor(dir, {"--http", address(port), "--name", "web", "--", "sleep", "120"});
  ASSERT_TRUE(eventually(
      [&] {
        return memvisor.err().find("cannot serve HTTP on " + address(port)) != std::string::npos;
      },
      20s))
      << memvisor.err();
  EXPECT_FALSE(memvisor.status().is_null());  // the supervisor runs on without HTTP
  ::close(squatter);
  std::optional<HttpReply> reply;
  EXPECT_TRUE(eventually(
      [&] { return (reply = http_get(port, "/health", 2s)) && reply->status == 200; }, 30s))
      << memvisor.err();
}

TEST(Http, ConfigFileKeyAndBadAddresses) {
  TempDir dir;
  const int port = free_port();
  const std::string config =
      dir.write("web.toml", "[supervisor]\nhttp = \":" + std::to_string(port) +
                                "\"\n\n[service.web]\ncommand = [\"sleep\", \"120\"]\n");
  const CommandResult check = run_memvisor({"check", config});
  EXPECT_EQ(check.exit_code, 0) << check.err;
  EXPECT_NE(check.out.find("http 127.0.0.1:" + std::to_string(port)), std::string::npos)
      << check.out;
  Memvisor memvisor(dir, {config});
  std::optional<HttpReply> reply;
  EXPECT_TRUE(
      eventually([&] { return (reply = http_get(port, "/health")) && reply->status == 200; }, 20s))
      << memvisor.err();

  const std::vector<std::pair<std::string, std::string>> bad = {
      {"9464", "web.toml:2:8: supervisor.http: missing ':PORT'"},
      {"127.0.0.1:0", "web.toml:2:8: supervisor.http: port '0': expected a number from 1 to 65535"},
      {"::1:80", "web.toml:2:8: supervisor.http: an IPv6 address needs brackets: [::1]:PORT"},
      {"example.com:80", "web.toml:2:8: supervisor.http: 'example.com' is not an IP address"},
  };
  for (const auto& [value, message] : bad) {
    const std::string path = dir.write(
        "web.toml", "[supervisor]\nhttp = \"" + value + "\"\n\n[service.web]\ncommand = [\"x\"]\n");
    const CommandResult result = run_memvisor({"check", path});
    EXPECT_EQ(result.exit_code, 2) << value;
    EXPECT_NE(result.err.find(message), std::string::npos) << value << ": " << result.err;
  }
  const CommandResult flag = run_memvisor({"run", "--http", "localhost", "--", "sleep", "1"});
  EXPECT_EQ(flag.exit_code, 2);
  EXPECT_NE(flag.err.find("--http: missing ':PORT'"), std::string::npos) << flag.err;
}

}  // namespace
}  // namespace memvisor::testing
