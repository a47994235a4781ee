// The memory-pressure rule ([supervisor] pressure) on real processes. Host PSI cannot be driven in
// CI, so most tests point `source` at a fixture file in /proc/pressure/memory's format: memvisor
// cannot arm a trigger on a plain file and reads its avg10 each sampling round, through the same
// pick, cooldown and recycle as a trigger. The last test squeezes a real memory cgroup and waits
// for a real PSI trigger where this machine allows it.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
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
  return dir.write("pool.toml",
                   "[supervisor]\npressure = { some = \"10%\", window = \"2s\", "
                   "source = \"" +
                       dir.file("psi") +
                       "\" }\n"
                       "[service.pool]\ncommand = [\"python3\", \"" +
                       worker + "\"]\ninstances = 3\ninterval = \"100ms\"\n");
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
  EXPECT_GE(event_seconds(two[1]) - event_seconds(two[0]), 2.0 - 0.01);
  set_pressure(dir, 0);
  // Let any recycle the second pick began finish, then nothing more happens without pressure.
  std::this_thread::sleep_for(5s);
  const size_t settled = memvisor.events("pressure").size();
  std::this_thread::sleep_for(4s);
  EXPECT_EQ(memvisor.events("pressure").size(), settled);
  const auto all = memvisor.events("pressure");
  for (size_t i = 1; i < all.size(); ++i) {
    EXPECT_GE(event_seconds(all[i]) - event_seconds(all[i - 1]), 2.0 - 0.01);
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
  EXPECT_NE(result.err.find("bad.toml:2:37: supervisor.pressure.window"), std::string::npos)
      << result.err;
}

// A real squeeze: instance 1 joins a 64 MiB memory cgroup, holds 30 MiB and reads a 150 MiB
// file it wrote (its page cache charged to that cgroup) over and over, so its reads stall on
// reclaim and refaults; the host's PSI trigger fires and the rule recycles it, the largest.
// Host-wide: other load on the machine may fire the trigger too (the pick is the same).
class RealCgroup {
 public:
  explicit RealCgroup(const std::string& name) {
    for (const auto& [root, limit] : {std::pair{"/sys/fs/cgroup/memory/", "memory.limit_in_bytes"},
                                      std::pair{"/sys/fs/cgroup/", "memory.max"}}) {
      const std::string dir = root + name;
      if (!std::filesystem::exists(std::string(root) + limit) &&
          !std::filesystem::exists(std::string(root) + "cgroup.subtree_control")) {
        continue;
      }
      std::error_code ec;
      if (!std::filesystem::create_directory(dir, ec)) continue;
      std::ofstream(dir + "/" + limit) << (64 << 20);
      if (read_text(dir + "/" + limit).empty()) {
        std::filesystem::remove(dir, ec);
        continue;
      }
      path_ = dir;
      return;
    }
  }
  ~RealCgroup() {
    if (path_.empty()) return;
    // memvisor has stopped its instances; anything left in the cgroup is killed so it can go.
    for (int i = 0; i < 100; ++i) {
      std::istringstream pids(read_text(path_ + "/cgroup.procs"));
      for (pid_t pid = 0; pids >> pid;) ::kill(pid, SIGKILL);
      std::error_code ec;
      if (std::filesystem::remove(path_, ec)) return;
      std::this_thread::sleep_for(100ms);
    }
  }
  RealCgroup(const RealCgroup&) = delete;
  RealCgroup& operator=(const RealCgroup&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

bool psi_trigger_allowed() {
  const int fd = ::open("/proc/pressure/memory", O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return false;
  const char trigger[] = "some 20000 2000000";
  const bool ok = ::write(fd, trigger, sizeof trigger) > 0;
  ::close(fd);
  return ok;
}

TEST(Pressure, RealTriggerInASqueezedMemoryCgroup) {
  if (!psi_trigger_allowed()) GTEST_SKIP() << "no PSI trigger on /proc/pressure/memory here";
  RealCgroup cgroup("memvisor-pressure-test-" + std::to_string(::getpid()));
  if (cgroup.path().empty()) GTEST_SKIP() << "cannot make a memory cgroup with a limit here";
  TempDir dir;
  const std::string squeeze =
      dir.write("squeeze.py",
                "import os, sys, time\n"
                "if os.environ['MEMVISOR_INSTANCE'] != '1':\n    while True: time.sleep(1)\n"
                "open(sys.argv[1] + '/cgroup.procs', 'w').write(str(os.getpid()))\n"
                "hog = bytearray(30 << 20)\n"
                "for i in range(0, len(hog), 4096): hog[i] = 1\n"
                "path = sys.argv[2]\n"
                "with open(path, 'wb') as f:\n"
                "    for _ in range(150): f.write(os.urandom(1 << 20))\n"
                "    f.flush(); os.fsync(f.fileno())\n"
                "    os.posix_fadvise(f.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)\n"
                "while True:\n"
                "    with open(path, 'rb') as f:\n"
                "        while f.read(1 << 20): pass\n");
  const std::string config =
      dir.write("squeeze.toml",
                "[supervisor]\npressure = { some = \"1%\", window = \"2s\" }\n"
                "[service.squeeze]\ncommand = [\"python3\", \"" +
                    squeeze + "\", \"" + cgroup.path() + "\", \"" + dir.file("data") +
                    "\"]\ninstances = 2\ninterval = \"200ms\"\n");
  {
    Memvisor memvisor(dir, {config});
    const auto picks = memvisor.wait_events("pressure", 1, 60s);
    ASSERT_EQ(picks.size(), 1u) << memvisor.err();
    EXPECT_EQ(picks[0]["how"], "trigger");
    EXPECT_EQ(picks[0]["source"], "/proc/pressure/memory");
    EXPECT_EQ(picks[0]["instance"], 1);
    EXPECT_NE(memvisor.err().find("PSI trigger armed on /proc/pressure/memory"), std::string::npos)
        << memvisor.err();
    EXPECT_EQ(memvisor.wait_events("recycled", 1, 30s, "squeeze.1").size(), 1u) << memvisor.err();
  }
}

}  // namespace
}  // namespace memvisor::testing
