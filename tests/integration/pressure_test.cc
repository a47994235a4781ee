// The memory-pressure rule ([supervisor] pressure) on real processes. Host PSI cannot be driven in
// CI, so most tests point `source` at a fixture file in /proc/pressure/memory's format: memvisor
// cannot arm a trigger on a plain file and reads its avg10 each sampling round, through the same
// pick, cooldown and recycle as a trigger. The last test squeezes a real memory cgroup and waits
// for a real PSI trigger where this machine allows it.
#include <gtest/gtest.h>

#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <thread>

#include "harness.h"

namespace memvisor::testing {
namespace {

// Instance 2 holds 60 MiB more than the others.
constexpr const char* kPool =
    "import os, time\n"
    "hog = bytearray(60 << 20) if os.environ['MEMVISOR_INSTANCE'] == '2' else b''\n"
    "for i in range(0, len(hog), 4096): hog[i] = 1\n"
    "while True: time.sleep(1)\n";

std::string psi_text(double some_avg10) {
  char text[256];
  std::snprintf(text, sizeof text,
                "some avg10=%.2f avg60=0.00 avg300=0.00 total=123456\n"
                "full avg10=0.00 avg60=0.00 avg300=0.00 total=1234\n",
                some_avg10);
  return text;
}

// Replaced whole by a rename, so memvisor never reads half a file.
void set_pressure(const TempDir& dir, double some_avg10) {
  dir.write("psi.tmp", psi_text(some_avg10));
  std::filesystem::rename(dir.file("psi.tmp"), dir.file("psi"));
}

std::string pool_config(const TempDir& dir, const std::string& worker) {
  return dir.write("pool.toml", "[supervisor]\npressure = { some = \"10%\", window = \"2s\", "
                                "source = \"" +
                                    dir.file("psi") +
                                    "\" }\n"
                                    "[service.pool]\ncommand = [\"python3\", \"" +
                                    worker + "\"]\ninstances = 3\ninterval = \"100ms\"\n");
}

double ts_seconds(const nlohmann::json& event) {
  std::tm tm{};
  int ms = 0;
  std::sscanf(event.value("ts", "").c_str(), "%d-%d-%dT%d:%d:%d.%dZ", &tm.tm_year, &tm.tm_mon,
              &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec, &ms);
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  return static_cast<double>(timegm(&tm)) + ms / 1000.0;
}

// Until every instance of the pool has been measured, and instance 2 is the largest.
bool pool_measured(const Memvisor& memvisor) {
  const auto status = memvisor.status();
  if (status.is_null() || status["instances"].size() != 3) return false;
  for (const auto& instance : status["instances"]) {
    if (!instance["memory"].is_object()) return false;
  }
  return status["instances"][1]["memory"]["uss"].get<double>() > 50.0 * (1 << 20);
}

TEST(Pressure, RecyclesTheLargestInstanceOncePerWindow) {
  TempDir dir;
  set_pressure(dir, 0);
  const std::string worker = dir.write("pool.py", kPool);
  Memvisor memvisor(dir, {pool_config(dir, worker)});
  ASSERT_TRUE(eventually([&] { return pool_measured(memvisor); }, 20s)) << memvisor.err();
  set_pressure(dir, 35.5);
  const auto first = memvisor.wait_events("pressure", 1, 20s);
  ASSERT_EQ(first.size(), 1u) << memvisor.err();
  EXPECT_EQ(first[0]["service"], "pool");
  EXPECT_EQ(first[0]["instance"], 2);
  EXPECT_EQ(first[0]["action"], "recycle");
  EXPECT_EQ(first[0]["pick"], "largest");
  EXPECT_EQ(first[0]["how"], "avg10");
  EXPECT_EQ(first[0]["some_avg10"], 35.5);
  EXPECT_GT(first[0]["uss"].get<double>(), 50.0 * (1 << 20));
  ASSERT_EQ(memvisor.wait_events("recycled", 1, 20s, "pool.2").size(), 1u) << memvisor.err();
  const auto recycle = memvisor.events("recycle", "pool.2");
  ASSERT_GE(recycle.size(), 1u);
  EXPECT_EQ(recycle[0]["reason"], "pressure");
  EXPECT_TRUE(recycle[0]["surge"]);  // the service allows a surge: replacement first

  // Pressure persists: another pick, a window or more after the first.
  const auto two = memvisor.wait_events("pressure", 2, 20s);
  ASSERT_EQ(two.size(), 2u) << memvisor.err();
  EXPECT_GE(ts_seconds(two[1]) - ts_seconds(two[0]), 2.0 - 0.01);
  set_pressure(dir, 0);
  // Let any recycle the second pick began finish, then nothing more happens without pressure.
  std::this_thread::sleep_for(5s);
  const size_t settled = memvisor.events("pressure").size();
  std::this_thread::sleep_for(4s);
  EXPECT_EQ(memvisor.events("pressure").size(), settled);
  const auto all = memvisor.events("pressure");
  for (size_t i = 1; i < all.size(); ++i) {
    EXPECT_GE(ts_seconds(all[i]) - ts_seconds(all[i - 1]), 2.0 - 0.01);
  }
  // Said once why no trigger is armed on a plain file.
  const std::string err = memvisor.err();
  const auto said = err.find("cannot arm a PSI trigger");
  ASSERT_NE(said, std::string::npos) << err;
  EXPECT_EQ(err.find("cannot arm a PSI trigger", said + 1), std::string::npos);
}

TEST(Pressure, BelowTheShareNothingHappens) {
  TempDir dir;
  set_pressure(dir, 9.99);  // just below some = 10%
  const std::string worker = dir.write("pool.py", kPool);
  Memvisor memvisor(dir, {pool_config(dir, worker)});
  ASSERT_TRUE(eventually([&] { return pool_measured(memvisor); }, 20s)) << memvisor.err();
  std::this_thread::sleep_for(5s);  // two and a half windows of sampling rounds
  EXPECT_TRUE(memvisor.events("pressure").empty());
  EXPECT_TRUE(memvisor.events("recycle").empty());
}

TEST(Pressure, ConfigErrorAtItsLine) {
  TempDir dir;
  const std::string config = dir.write(
      "bad.toml",
      "[supervisor]\npressure = { some = \"10%\", window = \"30s\" }\n[service.a]\ncommand = "
      "[\"sleep\", \"9\"]\n");
  const auto result = run_memvisor({"check", config}, 10s);
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("bad.toml:2:40: supervisor.pressure.window"), std::string::npos)
      << result.err;
}

}  // namespace
}  // namespace memvisor::testing
