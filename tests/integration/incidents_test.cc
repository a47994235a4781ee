// Incident bundles from real workers: critical on a leaking Python worker, `memvisor dump`,
// listing, showing and retention; and `memvisor events` (also --follow).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "harness.h"

namespace memvisor::testing {
namespace {

namespace fs = std::filesystem;

const std::vector<std::string> kBundleFiles{"summary.txt", "incident.json", "memory.csv",
                                            "memory.svg",  "smaps_top.txt", "status.txt",
                                            "stacks.txt"};

size_t count_lines(const std::string& text) {
  return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
}

// Runs a shell command line, returns its exit code.
int shell(const std::string& command) {
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

TEST(Incidents, CriticalOnALeakingWorkerWritesAFullBundleBeforeTheStop) {
  TempDir dir;
  const std::string worker = dir.write("grow.py", kGrowingPython);
  Memvisor memvisor(dir, {"--name", "grow", "--interval", "100ms", "--critical", "60MiB", "--",
                          "python3", worker});
  const auto incidents = memvisor.wait_events("incident", 1, 30s, "grow.1");
  ASSERT_EQ(incidents.size(), 1u) << memvisor.err();
  ASSERT_TRUE(incidents[0].contains("path")) << incidents[0].dump();
  const std::string path = incidents[0]["path"];
  const std::string id = incidents[0]["incident"];
  EXPECT_EQ(fs::path(path).filename().string(), id);
  EXPECT_NE(id.find("-grow.1-critical"), std::string::npos) << id;
  EXPECT_EQ(memvisor.events("rule", "grow.1").at(0)["incident"], id);
  for (const std::string& file : kBundleFiles) {
    EXPECT_TRUE(fs::exists(path + "/" + file)) << file;
  }

  // Captured while the process was alive: the stop comes after the bundle.
  ASSERT_EQ(memvisor.wait_events("exited", 1, 20s, "grow.1").size(), 1u) << memvisor.err();
  bool bundle_seen = false;
  for (const auto& e : memvisor.events()) {
    if (e["event"] == "incident") bundle_seen = true;
    if (e["event"] == "exited") {
      EXPECT_TRUE(bundle_seen) << "stopped before the capture";
    }
  }

  const std::string summary = read_text(path + "/summary.txt");
  EXPECT_NE(summary.find("grow.1 (pid " + std::to_string(incidents[0]["pid"].get<int>())),
            std::string::npos)
      << summary;
  EXPECT_NE(summary.find("rule:       critical = 60 MiB (pss)"), std::string::npos) << summary;
  EXPECT_NE(summary.find("stopped at once"), std::string::npos) << summary;
  const auto json = nlohmann::json::parse(read_text(path + "/incident.json"));
  EXPECT_EQ(json["rule"]["rule"], "critical");
  EXPECT_GT(json["memory"]["pss"].get<double>(), 60.0 * (1 << 20));
  const std::string csv = read_text(path + "/memory.csv");
  EXPECT_EQ(csv.rfind("t_s,rss,pss,uss,swap,anon\n", 0), 0u);
  EXPECT_GE(count_lines(csv), 3u) << csv;
  EXPECT_NE(read_text(path + "/status.txt").find("VmRSS:"), std::string::npos);
  const std::string smaps = read_text(path + "/smaps_top.txt");
  EXPECT_NE(smaps.find("[heap]"), std::string::npos) << smaps;
  EXPECT_NE(smaps.find("libc.so"), std::string::npos) << smaps;
  EXPECT_NE(smaps.find("(total)"), std::string::npos) << smaps;
  const std::string stacks = read_text(path + "/stacks.txt");
  if (have_program("eu-stack")) {
    EXPECT_NE(stacks.find("# "), std::string::npos) << stacks;
    EXPECT_NE(stacks.find("eu-stack"), std::string::npos) << stacks;
    EXPECT_NE(stacks.find("TID "), std::string::npos) << stacks;  // at least one thread's stack
  } else if (!have_program("gdb")) {
    EXPECT_NE(stacks.find("no stack tool is installed"), std::string::npos) << stacks;
  }

  // The chart is well-formed SVG with the threshold and the series, and renders to a PNG.
  const std::string svg = path + "/memory.svg";
  EXPECT_NE(read_text(svg).find("critical (pss) 60 MiB"), std::string::npos);
  EXPECT_NE(read_text(svg).find("<polyline"), std::string::npos);
  ASSERT_EQ(
      shell("python3 -c 'import sys, xml.etree.ElementTree as e; e.parse(sys.argv[1])' " + svg), 0);
  if (have_program("rsvg-convert")) {
    const std::string png = dir.file("chart.png");
    ASSERT_EQ(shell("rsvg-convert -o " + png + " " + svg), 0);
    EXPECT_EQ(read_text(png).substr(1, 3), "PNG");
  }
  // The crash report of the critical rule is still written beside the bundles.
  EXPECT_TRUE(fs::exists(memvisor.events("rule", "grow.1").at(0)["report"].get<std::string>()));
  for (const auto& entry : fs::directory_iterator(memvisor.state_dir() + "/incidents")) {
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();
  }
}

TEST(Incidents, DumpListShowAndRetention) {
  TempDir dir;
  const std::string config = dir.write("w.toml",
                                       "[supervisor]\nincidents_keep = 2\n"
                                       "[service.w]\ncommand = [\"sleep\", \"300\"]\n");
  Memvisor memvisor(dir, {config});
  const auto started = memvisor.wait_events("started", 1, 10s, "w.1");
  ASSERT_EQ(started.size(), 1u) << memvisor.err();
  const int pid = started[0]["pid"];
  const std::string state = memvisor.state_dir();

  std::vector<std::string> paths;
  for (int i = 0; i < 3; ++i) {
    auto dump = run_memvisor({"dump", "w.1", "--state-dir", state}, 60s);
    ASSERT_EQ(dump.exit_code, 0) << dump.err;
    ASSERT_FALSE(dump.out.empty());
    paths.push_back(dump.out.substr(0, dump.out.find('\n')));
  }
  EXPECT_TRUE(process_alive(pid)) << "a dump must not touch the worker";
  EXPECT_EQ(memvisor.events("exited", "w.1").size(), 0u);
  // Retention keeps the last two.
  EXPECT_FALSE(fs::exists(paths[0]));
  EXPECT_TRUE(fs::exists(paths[1]));
  EXPECT_TRUE(fs::exists(paths[2]));
  for (const std::string& file : kBundleFiles) EXPECT_TRUE(fs::exists(paths[2] + "/" + file));
  EXPECT_NE(read_text(paths[2] + "/summary.txt").find("trigger:    dump"), std::string::npos);

  auto list = run_memvisor({"incidents", "--state-dir", state});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  const std::string id1 = fs::path(paths[1]).filename(), id2 = fs::path(paths[2]).filename();
  EXPECT_NE(list.out.find("ID"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find(id1), std::string::npos) << list.out;
  EXPECT_NE(list.out.find(id2), std::string::npos) << list.out;
  EXPECT_EQ(list.out.find(fs::path(paths[0]).filename().string() + " "), std::string::npos);
  EXPECT_NE(list.out.find("w.1"), std::string::npos);
  EXPECT_NE(list.out.find("dump"), std::string::npos);
  EXPECT_EQ(count_lines(list.out), 3u) << list.out;  // header and two bundles
  auto list_json = run_memvisor({"incidents", "list", "--json", "--state-dir", state});
  ASSERT_EQ(list_json.exit_code, 0) << list_json.err;
  const auto listed = nlohmann::json::parse(list_json.out);
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[1]["id"], id2);
  EXPECT_GT(listed[1]["bytes"].get<uint64_t>(), 1000u);

  auto show = run_memvisor({"incidents", "show", id2, "--state-dir", state});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_NE(show.out.find("memvisor incident " + id2), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("memory.svg"), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("stacks.txt"), std::string::npos) << show.out;

  EXPECT_EQ(run_memvisor({"incidents", "show", "nosuch", "--state-dir", state}).exit_code, 2);
  EXPECT_EQ(run_memvisor({"incidents", "show", "../..", "--state-dir", state}).exit_code, 2);
  EXPECT_EQ(run_memvisor({"incidents", "frobnicate", "--state-dir", state}).exit_code, 2);
  EXPECT_EQ(run_memvisor({"dump", "w.9", "--state-dir", state}).exit_code, 2);
  EXPECT_EQ(run_memvisor({"dump", "nosuch.1", "--state-dir", state}).exit_code, 2);
  EXPECT_EQ(run_memvisor({"dump", "w", "--state-dir", state}).exit_code, 2);

  // The post-mortem: memvisor stopped, its bundles are still listed and shown (it was "no
  // memvisor answers").
  memvisor.signal(SIGTERM);
  ASSERT_EQ(memvisor.wait(30s), 0) << memvisor.err();
  list = run_memvisor({"incidents", "--state-dir", state});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find(id2), std::string::npos) << list.out;
  show = run_memvisor({"incidents", "show", id2, "--state-dir", state});
  ASSERT_EQ(show.exit_code, 0) << show.err;
  EXPECT_NE(show.out.find("memvisor incident " + id2), std::string::npos) << show.out;
  EXPECT_EQ(run_memvisor({"incidents", "--state-dir", dir.file("nowhere")}).exit_code, 1);
}

// A bundle or an event line edited by hand, with fields of the wrong type: read as absent. The
// supervisor aborted on it at every listing and at each new bundle's retention pass, between a
// critical bundle and its stop, so the stop was lost (the restored checkpoint said it was done);
// `events`, `top --once` and `incidents` aborted too.
TEST(Incidents, FieldsOfTheWrongTypeOnDiskAreReadAsAbsent) {
  TempDir dir;
  const std::string bad = dir.file("state/incidents/20260101-000001-x.1-dump");
  fs::create_directories(bad);
  std::ofstream(bad + "/incident.json")
      << R"({"ts":5,"trigger":null,"service":"x","instance":"one"})";
  std::ofstream(dir.file("state/events.jsonl"))
      << R"({"ts":1,"event":5,"service":["web"],"instance":"one","pid":"p"})"
      << "\n";
  const int port = free_port();
  ASSERT_GT(port, 0);
  Memvisor memvisor(dir, {"--name", "py", "--interval", "200ms", "--critical", "2MiB",
                          "--restart-delay", "1m", "--http", "127.0.0.1:" + std::to_string(port),
                          "--", "python3", "-c", "import time; time.sleep(600)"});
  const auto stopped = memvisor.wait_events("exited", 1, 30s, "py.1");
  ASSERT_EQ(stopped.size(), 1u) << memvisor.err();
  EXPECT_EQ(stopped[0].value("reason", ""), "critical") << stopped[0].dump();
  ASSERT_EQ(memvisor.wait_events("incident", 1, 30s, "py.1").size(), 1u) << memvisor.err();
  EXPECT_EQ(memvisor.err().find("supervisor killed"), std::string::npos) << memvisor.err();
  EXPECT_EQ(memvisor.err().find("terminate called"), std::string::npos) << memvisor.err();

  const auto listed = run_memvisor({"incidents", "--state-dir", memvisor.state_dir()});
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_NE(listed.out.find("20260101-000001-x.1-dump"), std::string::npos) << listed.out;
  const auto events = run_memvisor({"events", "--state-dir", memvisor.state_dir()});
  EXPECT_EQ(events.exit_code, 0) << events.err;
  EXPECT_NE(events.out.find("py.1: "), std::string::npos) << events.out;
  const auto top = run_memvisor({"top", "--once", "--state-dir", memvisor.state_dir()});
  EXPECT_EQ(top.exit_code, 0) << top.err;
}

TEST(Events, PrintsHumanLinesJsonAndFollows) {
  TempDir dir;
  Memvisor memvisor(dir, {"--name", "e", "--", "sleep", "300"});
  ASSERT_EQ(memvisor.wait_events("started", 1, 10s, "e.1").size(), 1u) << memvisor.err();
  const std::string state = memvisor.state_dir();

  auto human = run_memvisor({"events", "--state-dir", state});
  ASSERT_EQ(human.exit_code, 0) << human.err;
  EXPECT_NE(human.out.find("  e.1: started"), std::string::npos) << human.out;
  auto json = run_memvisor({"events", "--json", "--last", "1", "--state-dir", state});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  EXPECT_EQ(count_lines(json.out), 1u) << json.out;
  EXPECT_TRUE(nlohmann::json::parse(json.out).is_object());
  EXPECT_EQ(run_memvisor({"events", "--state-dir", dir.file("nowhere")}).exit_code, 1);

  // --follow prints what comes after it started.
  const std::string out = dir.file("follow.out");
  const pid_t follower = ::fork();
  ASSERT_GE(follower, 0);
  if (follower == 0) {
    std::freopen(out.c_str(), "w", stdout);
    ::execl(MEMVISOR_BINARY, MEMVISOR_BINARY, "events", "--follow", "--state-dir", state.c_str(),
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ASSERT_TRUE(eventually([&] { return read_text(out).find("started") != std::string::npos; }, 10s))
      << read_text(out);
  auto restart = run_memvisor({"restart", "e.1", "--state-dir", state});
  ASSERT_EQ(restart.exit_code, 0) << restart.err;
  EXPECT_TRUE(eventually(
      [&] { return read_text(out).find("e.1: replaced pid") != std::string::npos; }, 20s))
      << read_text(out);
  ::kill(follower, SIGTERM);
  ::waitpid(follower, nullptr, 0);
}

}  // namespace
}  // namespace memvisor::testing
