// Pre-fork servers (prefork = true) on real processes: each child of an instance's process is
// measured on its own (web.1/PID), a leaking child is recycled by a signal while its master stays,
// children recycle one at a time, `critical` kills only that child, and bad prefork keys are a
// config error with FILE:LINE:COLUMN.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <set>
#include <thread>

#include "harness.h"
#include "http_client.h"

namespace memvisor::testing {
namespace {

// Debian's interpreter by its path: a `python3` found first in PATH may be a version manager's
// shim (pyenv's is a bash script), which forks helpers before it execs Python. Under
// prefork = true those helpers are the instance's children, and a 1s max-age recycled one of
// them, killing the master-to-be: the flake this path ends. memvisor's README says the same for
// users: the instance's process must be the master (exec it).
constexpr const char* kPython = "/usr/bin/python3";

std::string prefork_master() {
  return source_path("tests/integration/workers/prefork_master.py");
}

// The children status shows under the instance web.1 (prefork = true), by pid.
std::vector<nlohmann::json> children_of(const Memvisor& memvisor, int instance = 1) {
  const nlohmann::json status = status_of(memvisor);
  if (!status.is_object()) return {};
  for (const auto& record : status.value("instances", nlohmann::json::array())) {
    if (record.value("instance", 0) == instance && record.value("role", "") == "primary") {
      const auto children = record.value("children", nlohmann::json::array());
      return {children.begin(), children.end()};
    }
  }
  return {};
}

// Children whose memory has been measured.
size_t measured(const std::vector<nlohmann::json>& children) {
  return static_cast<size_t>(std::count_if(children.begin(), children.end(), [](const auto& c) {
    return c.contains("memory") && c["memory"].is_object();
  }));
}

pid_t instance_pid(const Memvisor& memvisor) {
  const nlohmann::json status = status_of(memvisor);
  if (!status.is_object() || status["instances"].empty()) return 0;
  return status["instances"][0].value("pid", 0);
}

// Events about pre-fork children (they carry "child").
std::vector<nlohmann::json> child_events(const Memvisor& memvisor, const std::string& name) {
  std::vector<nlohmann::json> found;
  for (const auto& e : memvisor.events(name)) {
    if (e.contains("child")) found.push_back(e);
  }
  return found;
}

TEST(Prefork, EachChildIsMeasuredAndALeakingOneIsRecycledWhileTheMasterStays) {
  TempDir dir;
  // Two of three children leak at once: the limit catches both, and they recycle one at a time.
  Memvisor memvisor(dir,
                    {"--name", "web", "--prefork", "--interval", "200ms", "--limit", "60MiB",
                     "--limit-for", "2", "--", kPython, prefork_master()},
                    {}, {"PREFORK_WORKERS=3", "PREFORK_LEAKERS=2", "PREFORK_LEAK_MIB=8"});
  ASSERT_TRUE(eventually([&] { return measured(children_of(memvisor)) == 3; }, 10s))
      << memvisor.err();
  const pid_t master = instance_pid(memvisor);
  ASSERT_GT(master, 0);
  std::set<int> first;
  for (const auto& child : children_of(memvisor)) {
    const int pid = child["pid"];
    first.insert(pid);
    EXPECT_EQ(child["unit"], "web.1/" + std::to_string(pid));
  }

  ASSERT_TRUE(eventually([&] { return child_events(memvisor, "recycled").size() >= 2; }, 30s))
      << memvisor.err();
  const auto rules = child_events(memvisor, "rule");
  ASSERT_GE(rules.size(), 2u);
  for (const auto& rule : rules) EXPECT_EQ(rule["rule"], "limit");

  // One at a time: the second child is signalled only once the first one's replacement is there.
  int in_flight = 0, most = 0;
  std::set<int> recycled;
  for (const auto& e : memvisor.events()) {
    if (!e.contains("child")) continue;
    if (e["event"] == "recycle") most = std::max(most, ++in_flight);
    if (e["event"] == "recycled" || e["event"] == "recycle_failed") --in_flight;
    if (e["event"] == "recycled") recycled.insert(e["child"].get<int>());
  }
  EXPECT_EQ(most, 1);
  EXPECT_EQ(recycled.size(), 2u);
  for (const int pid : recycled) {
    EXPECT_TRUE(first.contains(pid)) << pid;
    EXPECT_FALSE(process_alive(pid)) << pid;
  }

  // The master stayed: same pid, never restarted; it is back at three children, none leaking.
  const nlohmann::json status = status_of(memvisor);
  ASSERT_TRUE(status.is_object());
  EXPECT_EQ(status["instances"][0]["pid"], master);
  EXPECT_EQ(status["instances"][0]["generation"], 1);
  EXPECT_EQ(status["instances"][0]["restarts"], 0);
  EXPECT_TRUE(process_alive(master));
  EXPECT_TRUE(memvisor.events("started").size() == 1) << "the master was never restarted";
  // A child that exited goes at its service's next sampling round.
  const auto fresh_three = [&] {
    const auto children = children_of(memvisor);
    return measured(children) == 3 &&
           std::none_of(children.begin(), children.end(), [&](const nlohmann::json& c) {
             return recycled.contains(c["pid"].get<int>());
           });
  };
  EXPECT_TRUE(eventually(fresh_three, 5s)) << status_of(memvisor).dump();
  // The human table shows each child on a row of its own.
  const auto table = run_memvisor({"status", "--state-dir", memvisor.state_dir()});
  EXPECT_NE(table.out.find("child"), std::string::npos) << table.out;
}

TEST(Prefork, AChildThatIgnoresTheSignalIsKilledAfterPreforkTimeout) {
  TempDir dir;
  Memvisor memvisor(dir,
                    {"--name", "web", "--prefork", "--prefork-timeout", "1s", "--interval", "200ms",
                     "--limit", "60MiB", "--limit-for", "2", "--", kPython, prefork_master()},
                    {}, {"PREFORK_WORKERS=2", "PREFORK_LEAKERS=1", "PREFORK_IGNORE_TERM=1"});
  ASSERT_TRUE(eventually([&] { return child_events(memvisor, "recycled").size() >= 1; }, 30s))
      << memvisor.err();
  const auto kills = child_events(memvisor, "stopping");
  ASSERT_EQ(kills.size(), 1u) << memvisor.err();
  EXPECT_EQ(kills[0]["signal"], "SIGKILL");
  EXPECT_FALSE(process_alive(kills[0]["child"].get<int>()));
}

TEST(Prefork, AgeAndTotalApplyToChildren) {
  TempDir dir;
  // One child leaks: the service total picks it (the largest private memory), never the master.
  Memvisor memvisor(dir,
                    {"--name", "web", "--prefork", "--interval", "200ms", "--total", "100MiB", "--",
                     kPython, prefork_master()},
                    {}, {"PREFORK_WORKERS=3", "PREFORK_LEAKERS=1"});
  ASSERT_TRUE(eventually([&] { return !child_events(memvisor, "recycled").empty(); }, 30s))
      << memvisor.err();
  const auto rule = child_events(memvisor, "rule").at(0);
  EXPECT_EQ(rule["rule"], "total");
  EXPECT_EQ(child_events(memvisor, "recycled").at(0)["child"], rule["child"]);
  EXPECT_EQ(memvisor.events("started").size(), 1u) << "the master was never recycled";

  // Each child's age is its own: with a 1s max age they are recycled; the master's age is no
  // reason to recycle it.
  TempDir aged_dir;
  Memvisor aged(aged_dir,
                {"--name", "web", "--prefork", "--interval", "200ms", "--max-age", "1s",
                 "--age-jitter", "0s", "--", kPython, prefork_master()},
                {}, {"PREFORK_WORKERS=2"});
  ASSERT_TRUE(eventually([&] { return child_events(aged, "recycled").size() >= 2; }, 30s))
      << aged.err();
  for (const auto& recycled : child_events(aged, "recycled")) EXPECT_EQ(recycled["reason"], "age");
  EXPECT_EQ(aged.events("started").size(), 1u);
  EXPECT_EQ(aged.events("exited").size(), 0u);
}

TEST(Prefork, CriticalOnAChildKillsOnlyThatChild) {
  TempDir dir;
  Memvisor memvisor(dir,
                    {"--name", "web", "--prefork", "--interval", "200ms", "--critical", "80MiB",
                     "--", kPython, prefork_master()},
                    {}, {"PREFORK_WORKERS=3", "PREFORK_LEAKERS=1", "PREFORK_LEAK_MIB=8"});
  ASSERT_TRUE(eventually([&] { return measured(children_of(memvisor)) == 3; }, 10s))
      << memvisor.err();
  const pid_t master = instance_pid(memvisor);
  std::set<int> first;
  for (const auto& child : children_of(memvisor)) first.insert(child["pid"].get<int>());

  ASSERT_TRUE(eventually([&] { return !child_events(memvisor, "recycle").empty(); }, 30s))
      << memvisor.err();
  const auto recycle = child_events(memvisor, "recycle").at(0);
  EXPECT_EQ(recycle["signal"], "SIGKILL");
  EXPECT_EQ(recycle["reason"], "critical");
  const int victim = recycle["child"];
  EXPECT_TRUE(first.contains(victim));
  ASSERT_TRUE(eventually([&] { return !process_alive(victim); }, 5s));

  // Only that child: the master and the two others keep their pids.
  EXPECT_TRUE(process_alive(master));
  EXPECT_EQ(instance_pid(memvisor), master);
  for (const int pid : first) {
    if (pid != victim) {
      EXPECT_TRUE(process_alive(pid)) << pid;
    }
  }
  // The master forked a replacement; an incident bundle names the child.
  ASSERT_TRUE(eventually([&] { return measured(children_of(memvisor)) == 3; }, 10s));
  const auto incidents = memvisor.events("incident");
  ASSERT_FALSE(incidents.empty());
  const std::string id = incidents[0]["incident"];
  EXPECT_NE(id.find("web.1_" + std::to_string(victim) + "-critical"), std::string::npos) << id;
  const auto bundle = nlohmann::json::parse(
      read_text(memvisor.state_dir() + "/incidents/" + id + "/incident.json"));
  EXPECT_EQ(bundle["unit"], "web.1/" + std::to_string(victim));
  EXPECT_EQ(bundle["pid"], victim);
}

TEST(Prefork, DumpTakesAChild) {
  TempDir dir;
  Memvisor memvisor(
      dir, {"--name", "web", "--prefork", "--interval", "200ms", "--", kPython, prefork_master()},
      {}, {"PREFORK_WORKERS=2"});
  ASSERT_TRUE(eventually([&] { return measured(children_of(memvisor)) == 2; }, 10s))
      << memvisor.err();
  const int child = children_of(memvisor).at(0)["pid"];
  const std::string unit = "web.1/" + std::to_string(child);
  const auto dump = run_memvisor({"dump", unit, "--state-dir", memvisor.state_dir()}, 30s);
  ASSERT_EQ(dump.exit_code, 0) << dump.err;
  const std::string path = dump.out.substr(0, dump.out.find('\n'));
  const auto bundle = nlohmann::json::parse(read_text(path + "/incident.json"));
  EXPECT_EQ(bundle["unit"], unit);
  EXPECT_NE(read_text(path + "/status.txt").find("Pid:\t" + std::to_string(child)),
            std::string::npos);
  const auto gone = run_memvisor({"dump", "web.1/1", "--state-dir", memvisor.state_dir()}, 30s);
  EXPECT_NE(gone.exit_code, 0);
  EXPECT_NE(gone.err.find("no running process for web.1/1"), std::string::npos) << gone.err;
}

TEST(Prefork, SampleTakesAChild) {
#ifdef MEMVISOR_SANITIZED
  GTEST_SKIP() << "the heap sampler is not tested under sanitizers";
#endif
  TempDir dir;
  // The first child keeps 1 MiB more every 100 ms: its heap sample sees bytes_repeat retain it.
  Memvisor memvisor(
      dir,
      {"--name", "web", "--prefork", "--heap-sampler", "--interval", "200ms", "--", kPython,
       prefork_master()},
      {},
      {"PREFORK_WORKERS=2", "PREFORK_LEAKERS=1", "PREFORK_LEAK_MIB=1", "PREFORK_LEAK_CAP_MIB=400"});
  ASSERT_TRUE(eventually([&] { return measured(children_of(memvisor)) == 2; }, 10s))
      << memvisor.err();
  // The leaking child is the one that grows.
  ASSERT_TRUE(eventually(
      [&] {
        for (const auto& child : children_of(memvisor)) {
          if (child["memory"].is_object() && child["memory"]["rss"].get<double>() > 40 << 20)
            return true;
        }
        return false;
      },
      10s));
  std::string unit;
  for (const auto& child : children_of(memvisor)) {
    if (child["memory"].is_object() && child["memory"]["rss"].get<double>() > 40 << 20)
      unit = child["unit"];
  }
  ASSERT_FALSE(unit.empty());
  const std::string out = dir.file("heap.json");
  const auto sample = run_memvisor(
      {"sample", unit, "--duration", "2s", "--out", out, "--state-dir", memvisor.state_dir()}, 30s);
  ASSERT_EQ(sample.exit_code, 0) << sample.out << sample.err;
  EXPECT_NE(sample.err.find("sampling " + unit), std::string::npos) << sample.err;
  const auto report = nlohmann::json::parse(read_text(out));
  EXPECT_EQ(report["pid"], std::stoi(unit.substr(unit.find('/') + 1)))
      << report.dump().substr(0, 400);
}

TEST(Prefork, GunicornWorkersAreMeasuredAndALeakingOneIsRecycled) {
  if (!have_program("gunicorn")) GTEST_SKIP() << "gunicorn is not installed (scripts/setup)";
  TempDir dir;
  const int port = free_port();
  Memvisor memvisor(dir, {"--name",
                          "web",
                          "--prefork",
                          "--interval",
                          "200ms",
                          "--limit",
                          "100MiB",
                          "--limit-for",
                          "2",
                          "--stop-signal",
                          "SIGTERM",
                          "--",
                          "gunicorn",
                          "--workers",
                          "4",
                          "--bind",
                          "127.0.0.1:" + std::to_string(port),
                          "--chdir",
                          source_path("examples/gunicorn"),
                          "app:app"});
  ASSERT_TRUE(eventually([&] { return measured(children_of(memvisor)) == 4; }, 20s))
      << memvisor.err();
  const pid_t master = instance_pid(memvisor);
  ASSERT_TRUE(eventually([&] { return http_get(port, "/").has_value(); }, 10s));

  // One request makes the worker that serves it keep 150 MiB.
  const auto reply = http_get(port, "/leak?mib=150", 10s);
  ASSERT_TRUE(reply && reply->status == 200);
  // "worker PID now keeps 150 MiB"
  const int leaker = std::stoi(reply->body.substr(reply->body.find(' ') + 1));
  ASSERT_TRUE(eventually([&] { return !child_events(memvisor, "recycled").empty(); }, 30s))
      << memvisor.err();
  const auto recycled = child_events(memvisor, "recycled").at(0);
  EXPECT_EQ(recycled["child"], leaker);
  EXPECT_EQ(recycled["reason"], "limit");
  EXPECT_FALSE(process_alive(leaker));

  // The master stayed and forked a fourth worker again.
  EXPECT_EQ(instance_pid(memvisor), master);
  EXPECT_TRUE(process_alive(master));
  // Four workers again, the leaker not among them (it goes at the next sampling round).
  EXPECT_TRUE(eventually(
      [&] {
        const auto children = children_of(memvisor);
        return measured(children) == 4 &&
               std::none_of(children.begin(), children.end(),
                            [&](const auto& c) { return c["pid"] == leaker; });
      },
      20s))
      << status_of(memvisor).dump();
  EXPECT_TRUE(http_get(port, "/").has_value());
}

TEST(Prefork, BadKeysAreConfigErrorsWithTheirPlace) {
  TempDir dir;
  const std::string path =
      dir.write("web.toml",
                "[service.web]\ncommand = [\"sleep\", \"60\"]\nprefork = true\n"
                "prefork_signal = \"SIGNOPE\"\n");
  for (const char* sub : {"check", "run"}) {
    std::vector<std::string> args = {sub, path};
    if (std::string(sub) == "run") args = {"run", "--state-dir", dir.file("state"), path};
    const auto result = run_memvisor(args, 10s);
    EXPECT_EQ(result.exit_code, 2) << sub << ": " << result.err;
    EXPECT_NE(result.err.find(path + ":4:18: service.web.prefork_signal: expected a signal name "
                                     "like SIGINT or SIGTERM, got 'SIGNOPE'"),
              std::string::npos)
        << result.err;
  }
  const std::string timeout =
      dir.write("t.toml", "[service.web]\ncommand = [\"sleep\"]\nprefork_timeout = \"0s\"\n");
  const auto zero = run_memvisor({"check", timeout}, 10s);
  EXPECT_EQ(zero.exit_code, 2);
  EXPECT_NE(zero.err.find(":3:19: service.web.prefork_timeout: expected a duration greater than 0"),
            std::string::npos)
      << zero.err;
  const auto flag = run_memvisor(
      {"run", "--state-dir", dir.file("s2"), "--prefork-signal", "NOPE", "--", "sleep", "1"}, 10s);
  EXPECT_EQ(flag.exit_code, 2);
  EXPECT_NE(flag.err.find("--prefork-signal: expected a signal name like SIGINT, got 'NOPE'"),
            std::string::npos)
      << flag.err;
  const auto ok = run_memvisor(
      {"check", dir.write("ok.toml", "[service.web]\ncommand = [\"sleep\"]\nprefork = true\n")});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("web ×1 prefork"), std::string::npos) << ok.out;
}

}  // namespace
}  // namespace memvisor::testing
