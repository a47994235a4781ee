// `memvisor replay` and `memvisor record`: the rule code on recorded data, and recording it.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <sstream>
#include <thread>

#include "harness.h"

namespace memvisor::testing {
namespace {

constexpr double MiB = 1024.0 * 1024.0;

// A 10 s trace of `hours`: a 300 MiB floor plus a GC sawtooth (10-minute period, 40 MiB), plus
// `leak_mib_per_hour` after `onset_s`.
std::string trace(double hours, double leak_mib_per_hour, double onset_s) {
  std::ostringstream csv;
  csv << "t_s,bytes\n";
  for (double t = 0; t < hours * 3600; t += 10) {
    const double saw = std::fmod(t, 600) / 600 * 40 * MiB;
    const double leak = t > onset_s ? (t - onset_s) / 3600 * leak_mib_per_hour * MiB : 0;
    csv << t << "," << static_cast<long>(300 * MiB + saw + leak) << "\n";
  }
  return csv.str();
}

std::vector<nlohmann::json> lines(const std::string& out) {
  std::vector<nlohmann::json> parsed;
  std::istringstream in(out);
  for (std::string line; std::getline(in, line);) parsed.push_back(nlohmann::json::parse(line));
  return parsed;
}

TEST(Replay, ASawtoothIsNotALeak) {
  TempDir dir;
  const auto result =
      run_memvisor({"replay", dir.write("saw.csv", trace(8, 0, 0)), "--leak", "10MiB/h"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(result.out, "");
}

TEST(Replay, ALeakUnderASawtoothIsReportedAfterItStartsWithItsSlope) {
  TempDir dir;
  const auto result =
      run_memvisor({"replay", dir.write("leak.csv", trace(8, 60, 7200)), "--leak", "10MiB/h"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto decisions = lines(result.out);
  ASSERT_EQ(decisions.size(), 1u) << result.out;
  EXPECT_EQ(decisions[0]["rule"], "leak");
  EXPECT_EQ(decisions[0]["action"], "recycle");
  EXPECT_GT(decisions[0]["t_s"].get<double>(), 7200);
  EXPECT_LT(decisions[0]["t_s"].get<double>(), 7200 + 90 * 60);
  EXPECT_NEAR(decisions[0]["slope_bytes_per_hour"].get<double>(), 60 * MiB, 20 * MiB);
}

TEST(Replay, ExplainSaysAtEachVerdictWhatTheLeakRuleSaw) {
  TempDir dir;
  const std::string leak = dir.write("leak.csv", trace(8, 60, 7200));
  const auto result = run_memvisor({"replay", leak, "--leak", "10MiB/h", "--explain"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::vector<nlohmann::json> verdicts;
  std::vector<nlohmann::json> decisions;
  for (auto& line : lines(result.out))
    (line.contains("explain") ? verdicts : decisions).push_back(line);
  // One verdict per 30 s bucket of the 8 h trace, and the decisions as without --explain.
  EXPECT_NEAR(static_cast<double>(verdicts.size()), 8 * 3600 / 30, 2);
  EXPECT_EQ(decisions, lines(run_memvisor({"replay", leak, "--leak", "10MiB/h"}).out));
  ASSERT_EQ(decisions.size(), 1u);
  const double fired_at = decisions[0]["t_s"];
  for (const auto& v : verdicts) {
    for (const char* key :
         {"t_s", "verdict", "span_s", "floor_window_s", "floor_bytes", "slope_bytes_per_hour",
          "slope_low_bytes_per_hour", "confidence", "rate_bytes_per_hour", "reason"}) {
      ASSERT_TRUE(v.contains(key)) << key << " in " << v.dump();
    }
    EXPECT_EQ(v["rate_bytes_per_hour"], 10 * MiB);
    // Before the onset the floor is flat: no verdict says leak, and each says why not.
    if (v["t_s"].get<double>() < 7200) {
      EXPECT_EQ(v["verdict"], "no leak") << v.dump();
      EXPECT_FALSE(v["reason"].get<std::string>().empty());
    }
  }
  // The verdict that fired is the one at the decision, a leak whose lower bound clears the rate
  // and whose floor has left the pre-onset 300 MiB behind.
  const auto at_fire = std::find_if(verdicts.begin(), verdicts.end(),
                                    [&](const auto& v) { return v["t_s"] == fired_at; });
  ASSERT_NE(at_fire, verdicts.end());
  EXPECT_EQ((*at_fire)["verdict"], "leak");
  EXPECT_GT((*at_fire)["slope_low_bytes_per_hour"].get<double>(), 10 * MiB);
  EXPECT_GT((*at_fire)["floor_bytes"].get<double>(), 300 * MiB);
  // The verdict before it was a leak waiting for its confirmation.
  EXPECT_NE((*(at_fire - 1))["reason"].get<std::string>().find("to be confirmed"),
            std::string::npos);

  // Without a leak rule there is nothing to explain: a usage error.
  const auto none = run_memvisor({"replay", leak, "--limit", "1GiB", "--explain"});
  EXPECT_EQ(none.exit_code, 2);
  EXPECT_NE(none.err.find("--explain"), std::string::npos);
}

TEST(Replay, SizeRulesAndAColumnChoice) {
  TempDir dir;
  const std::string path = dir.write("multi.csv",
                                     "t_s,rss,pss,uss,swap\n0,100,50,40,0\n1,300,150,140,0\n"
                                     "2,300,150,140,0\n3,300,250,240,0\n");
  auto result =
      run_memvisor({"replay", path, "--warn", "120B", "--limit", "200B", "--limit-for", "2"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  auto decisions = lines(result.out);
  ASSERT_EQ(decisions.size(), 1u) << result.out;  // pss passes 200 only once: no limit
  EXPECT_EQ(decisions[0]["rule"], "warn");
  EXPECT_EQ(decisions[0]["t_s"], 1);
  result = run_memvisor({"replay", path, "--metric", "rss", "--limit", "200B", "--limit-for", "2"});
  decisions = lines(result.out);
  ASSERT_EQ(decisions.size(), 1u) << result.out;
  EXPECT_EQ(decisions[0]["rule"], "limit");
  EXPECT_EQ(decisions[0]["metric"], "rss");
  EXPECT_EQ(decisions[0]["t_s"], 2);
}

TEST(Replay, BadTracesExitTwoWithTheLine) {
  TempDir dir;
  auto result =
      run_memvisor({"replay", dir.write("bad.csv", "t_s,bytes\n0,1\n10,x\n"), "--leak", "1MiB/h"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("bad.csv:3: expected a number, got 'x'"), std::string::npos)
      << result.err;
  result =
      run_memvisor({"replay", dir.write("back.csv", "t_s,bytes\n10,1\n5,1\n"), "--leak", "1MiB/h"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("back.csv:3: time goes backwards"), std::string::npos) << result.err;
  result = run_memvisor({"replay", dir.file("missing.csv"), "--leak", "1MiB/h"});
  EXPECT_EQ(result.exit_code, 2);
  // Numbers from_chars takes that are no size or time: each one line with its place, exit 2 (a
  // huge value became 0 bytes and hid a leak; nan, inf and a header alone passed).
  const std::vector<std::pair<std::string, std::string>> bad = {
      {"t_s,bytes\n0,1\n10,nan\n", "nan.csv:3: bytes: expected a size in bytes"},
      {"t_s,bytes\n0,1\n10,1e300\n", "huge.csv:3: bytes: expected a size in bytes"},
      {"t_s,bytes\n0,1\n10,-5\n", "negative.csv:3: bytes: expected a size in bytes"},
      {"t_s,bytes\ninf,1\n", "inf.csv:2: t_s: expected a finite time in seconds"},
      {"t_s,rss,gauge:heap\n0,1,nan\n", "gauge.csv:2: gauge:heap: expected a finite number"},
      {"t_s,bytes\n", "header.csv: no samples after the header"},
  };
  const char* names[] = {"nan.csv", "huge.csv",  "negative.csv",
                         "inf.csv", "gauge.csv", "header.csv"};
  for (size_t i = 0; i < bad.size(); ++i) {
    result = run_memvisor({"replay", dir.write(names[i], bad[i].first), "--leak", "1MiB/h"});
    EXPECT_EQ(result.exit_code, 2) << bad[i].first << result.out;
    EXPECT_NE(result.err.find(bad[i].second), std::string::npos) << result.err;
    EXPECT_EQ(std::count(result.err.begin(), result.err.end(), '\n'), 1) << result.err;
  }
  // A gauge with no value in a row (not fresh then) is still fine.
  result = run_memvisor(
      {"replay", dir.write("gap.csv", "t_s,rss,gauge:heap\n0,1,5\n1,1,\n"), "--warn", "1MiB"});
  EXPECT_EQ(result.exit_code, 0) << result.err;
}

TEST(Record, WritesTheMemoryOfALiveProcessAsCsv) {
  TempDir dir;
  Memvisor memvisor(dir, {"--name", "web", "--", "python3", "-c",
                          "import time; b = bytearray(30 << 20); time.sleep(60)"});
  ASSERT_EQ(memvisor.wait_events("started", 1, 10s).size(), 1u);
  ASSERT_TRUE(eventually(
      [&] {
        const auto status = memvisor.status();
        return !status.is_null() && status["instances"][0]["memory"].is_object() &&
               status["instances"][0]["memory"]["rss"].get<double>() > 30 * MiB;
      },
      10s));
  // Recorded from 2 s into the process's life: t_s is its age (as the live rule and a bundle's
  // memory.csv count it), not the time since the recording began.
  const double started = event_seconds(memvisor.events("started")[0]);
  const auto wall = [] {
    return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  };
  while (wall() - started < 2) std::this_thread::sleep_for(50ms);
  const double age_before = wall() - started;
  const auto result = run_memvisor({"record", "--instance", "web.1", "--interval", "100ms",
                                    "--duration", "550ms", "--state-dir", memvisor.state_dir()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::istringstream in(result.out);
  std::string header;
  std::getline(in, header);
  EXPECT_EQ(header, "t_s,rss,pss,uss,swap");
  int rows = 0;
  for (std::string row; std::getline(in, row); ++rows) {
    double t, rss, pss, uss, swap;
    ASSERT_EQ(std::sscanf(row.c_str(), "%lf,%lf,%lf,%lf,%lf", &t, &rss, &pss, &uss, &swap), 5)
        << row;
    if (rows == 0) {
      // The event is written just after the spawn: the process is a little older than it says.
      EXPECT_GE(t, age_before - 0.05) << row;
      EXPECT_LE(t, age_before + 5) << row;
    }
    EXPECT_GT(rss, 30 * MiB);
    EXPECT_LE(uss, rss);
  }
  EXPECT_GE(rows, 5);
  EXPECT_LE(rows, 7);
  // What record writes, replay reads.
  const std::string csv = dir.write("rec.csv", result.out);
  EXPECT_EQ(run_memvisor({"replay", csv, "--warn", "1MiB"}).exit_code, 0);
}

TEST(Replay, RulesOnAGaugeReadItsColumn) {
  TempDir dir;
  // RSS flat and far above the size; only the gauge crosses it (an empty cell: no value).
  const std::string trace = dir.write("gauge.csv",
                                      "t_s,rss,gauge:heap_used_bytes\n"
                                      "0,999999999,100\n"
                                      "1,999999999,\n"
                                      "2,999999999,900\n"
                                      "3,999999999,1500\n"
                                      "4,999999999,1600\n");
  auto result =
      run_memvisor({"replay", trace, "--metric", "gauge:heap_used_bytes", "--warn", "1KiB"});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto decisions = lines(result.out);
  ASSERT_EQ(decisions.size(), 1u) << result.out;
  EXPECT_EQ(decisions[0]["t_s"], 3);
  EXPECT_EQ(decisions[0]["metric"], "gauge:heap_used_bytes");
  EXPECT_EQ(decisions[0]["value"], 1500);
  // Negative control: the same rule on rss acts at once.
  result = run_memvisor({"replay", trace, "--metric", "rss", "--warn", "1KiB"});
  ASSERT_EQ(lines(result.out).size(), 1u);
  EXPECT_EQ(lines(result.out)[0]["t_s"], 0);
  // A rule on a gauge the trace does not have is a usage error, not a silent nothing.
  result = run_memvisor({"replay", trace, "--metric", "gauge:queue_depth", "--warn", "1KiB"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("no column gauge:queue_depth"), std::string::npos) << result.err;
}

TEST(Record, RecordsAnInstancesGauges) {
  TempDir dir;
  Memvisor memvisor(dir,
                    {"--name", "web", "--interval", "100ms", "--", "python3",
                     source_path("tests/integration/workers/gauge_worker.py")},
                    {}, {"GAUGES=heap_used_bytes=4096"});
  ASSERT_TRUE(eventually(
      [&] {
        const auto status = status_of(memvisor);
        return status.is_object() && !status["instances"].empty() &&
               status["instances"][0]
                   .value("gauges", nlohmann::json::object())
                   .contains("heap_used_bytes");
      },
      20s))
      << memvisor.err();
  const auto result = run_memvisor({"record", "--instance", "web.1", "--gauge", "heap_used_bytes",
                                    "--gauge", "never_sent", "--interval", "100ms", "--duration",
                                    "350ms", "--state-dir", memvisor.state_dir()});
  ASSERT_EQ(result.exit_code, 0) << result.err;
  std::istringstream in(result.out);
  std::string header, row;
  std::getline(in, header);
  EXPECT_EQ(header, "t_s,rss,pss,uss,swap,gauge:heap_used_bytes,gauge:never_sent");
  ASSERT_TRUE(std::getline(in, row));
  EXPECT_TRUE(row.ends_with(",4096,")) << row;
  // What record writes, replay reads, the empty cells included.
  const std::string csv = dir.write("rec.csv", result.out);
  const auto replayed = run_memvisor({"replay", csv, "--metric", "gauge:heap_used_bytes", "--warn",
                                      "1KiB", "--column", "gauge:heap_used_bytes"});
  EXPECT_EQ(replayed.exit_code, 0) << replayed.err;
  EXPECT_EQ(lines(replayed.out).size(), 1u) << replayed.out;
  EXPECT_EQ(run_memvisor({"record", "--pid", "1", "--gauge", "x"}).exit_code, 2);
}

}  // namespace
}  // namespace memvisor::testing
