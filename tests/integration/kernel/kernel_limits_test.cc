// Kernel-speed limits against a real memvisor on this machine's memory cgroups (cgroup = true):
// a worker leaking ~200 MB/s under `limit = "100MiB"` at `interval = "1s"` is recycled near the
// limit because the kernel notifies the crossing (negative control: the same with arming off
// overshoots far past the limit), and `memory_max` contains a runaway while the supervisor is
// stopped (the kernel kills it there, named oom_kill once the supervisor runs again). Skipped
// only where memvisor cannot make memory cgroups.
#include <gtest/gtest.h>

#include <algorithm>

#include <signal.h>
#include <thread>

#include <cstdio>
#include <filesystem>
#include <optional>
#include <sstream>
#include <string>

#include "harness.h"
#include "os/cgroup_memory_reader.h"

namespace memvisor::testing {
namespace {

// Generation 1 waits for the file `go`, then grows by 2 MiB steps paced at 200 MB/s up to CAP_MIB
// and holds there. On its stop signal it writes its peak RSS (VmHWM) and its cgroup's peak usage
// (memory.max_usage_in_bytes, v2 memory.peak), bytes, to `peak` and exits; on reaching the cap it
// writes them to `capped`. Later generations sleep.
const char* kFastLeaker = R"(import os, signal, sys, time
d, cap = sys.argv[1], int(sys.argv[2]) << 20
def peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return 0
def cgroup_peak():
    for line in open("/proc/self/cgroup"):
        parts = line.strip().split(":", 2)
        if "memory" in parts[1].split(",") or parts[1] == "":
            for name in ("memory.max_usage_in_bytes", "memory.peak"):
                base = "/sys/fs/cgroup/memory" if parts[1] else "/sys/fs/cgroup"
                try:
                    return int(open(base + parts[2] + "/" + name).read())
                except OSError:
                    pass
    return 0
def record(name):
    with open(os.path.join(d, name + ".tmp"), "w") as f:
        f.write("%d %d" % (peak(), cgroup_peak()))
    os.rename(os.path.join(d, name + ".tmp"), os.path.join(d, name))
def stop(*_):
    record("peak")
    os._exit(0)
if os.environ["MEMVISOR_GENERATION"] != "1":
    while True:
        time.sleep(1)
signal.signal(signal.SIGINT, stop)
signal.signal(signal.SIGTERM, stop)
while not os.path.exists(os.path.join(d, "go")):
    time.sleep(0.02)
hog, step, grown, start = [], 2 << 20, 0, time.monotonic()
while grown < cap:
    hog.append(b"\x01" * step)
    grown += step
    ahead = start + grown / 200e6 - time.monotonic()
    if ahead > 0:
        time.sleep(ahead)
record("capped")
while True:
    time.sleep(1)
)";

// Empty when memvisor can make memory cgroups here; else why not.
std::string cgroups_missing() {
  auto reader = CgroupMemoryReader::detect();
  if (!reader) return "no memory cgroup: " + reader.error().describe();
  return "";
}

uint64_t number_in(const std::string& path, size_t nth = 0) {
  std::istringstream in(read_text(path));
  uint64_t value = 0;
  for (size_t i = 0; i <= nth; ++i) {
    if (!(in >> value)) return 0;
  }
  return value;
}

struct LeakRun {
  uint64_t peak = 0;         // the leaker's VmHWM when it was stopped
  uint64_t cgroup_peak = 0;  // its cgroup's peak usage then
  uint64_t capped = 0;       // its VmHWM on reaching its cap (0: stopped before)
  nlohmann::json limit;      // the limit rule's event
  std::string err;
};

// The leaker under limit 100MiB (for = 3, the default) at interval 1s, with surge off so the
// recycle stops it at once; `armed` false sets MEMVISOR_KERNEL_THRESHOLDS=0.
LeakRun run_fast_leaker(bool armed) {
  TempDir dir;
  const std::string leaker = dir.write("leaker.py", kFastLeaker);
  const std::string config =
      dir.write("memvisor.toml",
                "[service.leak]\ncommand = [\"python3\", \"" + leaker + "\", \"" + dir.path() +
                    "\", \"300\"]\ncgroup = true\ninterval = \"1s\"\n"
                    "limit = \"100MiB\"\nsurge = false\nrestart_delay = \"200ms\"\n");
  std::vector<std::string> env;
  if (!armed) env.push_back("MEMVISOR_KERNEL_THRESHOLDS=0");
  Memvisor memvisor(dir, {config}, {}, env);
  LeakRun run;
  const auto started = memvisor.wait_events("started", 1, 20s, "leak.1");
  if (started.empty()) {
    run.err = "not started: " + memvisor.err();
    return run;
  }
  // Sampled at least once while small, then let it run away.
  eventually(
      [&] {
        const auto status = status_of(memvisor);
        return status.dump().find("\"samples\":") != std::string::npos;
      },
      10s);
  dir.write("go", "go");
  const auto limits = memvisor.wait_events("rule", 1, 30s, "leak.1");
  if (limits.empty()) {
    run.err = "no limit event: " + memvisor.err();
    return run;
  }
  run.limit = limits[0];
  eventually([&] { return std::filesystem::exists(dir.file("peak")); }, 20s);
  run.peak = number_in(dir.file("peak"));
  run.cgroup_peak = number_in(dir.file("peak"), 1);
  run.capped = number_in(dir.file("capped"));
  run.err = memvisor.err();
  memvisor.signal(SIGTERM);
  memvisor.wait(30s);
  return run;
}

TEST(KernelLimits, FastLeakerRecycledNearTheLimitWhenArmed) {
  if (auto missing = cgroups_missing(); !missing.empty()) GTEST_SKIP() << missing;
  const LeakRun run = run_fast_leaker(true);
  ASSERT_FALSE(run.limit.is_null()) << run.err;
  EXPECT_EQ(run.limit["rule"], "limit") << run.limit.dump();
  ASSERT_GT(run.peak, 0u) << run.err;
  std::printf("armed: peak RSS %.1f MiB, cgroup peak %.1f MiB, limit event %s\n",
              static_cast<double>(run.peak) / (1 << 20),
              static_cast<double>(run.cgroup_peak) / (1 << 20), run.limit.dump().c_str());
  // The issue's goal: never past 110 MiB (polling alone let it reach 172 MiB). The cgroup's peak
  // is what the kernel charged the instance; VmHWM also counts shared library pages charged
  // elsewhere (a few MiB of python), so it is printed, not bounded.
  ASSERT_GT(run.cgroup_peak, 0u) << run.err;
  EXPECT_LE(run.cgroup_peak, 110ull << 20) << run.limit.dump();
  EXPECT_EQ(run.capped, 0u) << "it reached its cap";
}

TEST(KernelLimits, NegativeControlWithoutArmingOvershoots) {
  if (auto missing = cgroups_missing(); !missing.empty()) GTEST_SKIP() << missing;
  const LeakRun run = run_fast_leaker(false);
  ASSERT_FALSE(run.limit.is_null()) << run.err;
  EXPECT_EQ(run.limit["rule"], "limit") << run.limit.dump();
  std::printf("not armed: peak RSS %.1f MiB, cgroup peak %.1f MiB\n",
              static_cast<double>(run.peak) / (1 << 20),
              static_cast<double>(run.cgroup_peak) / (1 << 20));
  // `for = 3` at 1 s: three samples above 100 MiB take at least 2 s, in which the leaker grows
  // far past the limit (to its 300 MiB cap at the full 200 MB/s, ~200 MiB on a loaded machine).
  EXPECT_GT(run.cgroup_peak, 150ull << 20);
}

// A worker whose PSS runs ahead of its cgroup's usage (shared-library pages another cgroup was
// charged for: bench/reaction_worker, C++, passes 32 MiB of PSS with about 31 MiB charged) and
// that crosses within a second of its start, then stops growing. The limit sits half a MiB under
// where the worker stops: a shared library's PSS is its size over the processes mapping it, so
// the worker's PSS drops a little whenever other C++ processes start (CI runs tests in parallel),
// and a limit at the very size it stops at was missed once that way. At `interval = "1h"` only the
// kernel's notification can catch it: armed where its own PSS could arrive (a first look after
// its start measures how far ahead it runs), the limit acts within seconds; with arming off
// (the negative control) no sample comes before the interval.
// Whether the limit acted; nullopt when the worker did not start.
std::optional<bool> pss_ahead_worker_recycled(bool armed, std::string* err) {
  TempDir dir;
  const std::string config = dir.write(
      "memvisor.toml", std::string("[service.grow]\ncommand = [\"") + REACTION_WORKER +
                           "\", \"32\"]\ncgroup = true\ninterval = \"1h\"\nmetric = \"pss\"\n"
                           "limit = { size = \"31.5MiB\", for = 1 }\nsurge = false\n"
                           "restart_delay = \"1m\"\n");
  std::vector<std::string> env;
  if (!armed) env.push_back("MEMVISOR_KERNEL_THRESHOLDS=0");
  Memvisor memvisor(dir, {config}, {}, env);
  if (memvisor.wait_events("started", 1, 20s, "grow.1").empty()) {
    *err = "not started: " + memvisor.err();
    return std::nullopt;
  }
  const auto limits = memvisor.wait_events("rule", 1, armed ? 20s : 8s, "grow.1");
  *err = memvisor.err();
  if (!limits.empty()) std::printf("%s\n", limits[0].dump().c_str());
  memvisor.signal(SIGTERM);
  memvisor.wait(30s);
  return !limits.empty();
}

TEST(KernelLimits, AWorkerAheadOfItsCgroupIsCaughtWithoutWaitingForTheInterval) {
  if (auto missing = cgroups_missing(); !missing.empty()) GTEST_SKIP() << missing;
  std::string err;
  EXPECT_EQ(pss_ahead_worker_recycled(true, &err), true) << err;
}

TEST(KernelLimits, NegativeControlAWorkerAheadOfItsCgroupWaitsForTheInterval) {
  if (auto missing = cgroups_missing(); !missing.empty()) GTEST_SKIP() << missing;
  std::string err;
  EXPECT_EQ(pss_ahead_worker_recycled(false, &err), false) << err;
}

// A config running kFastLeaker (up to 400 MiB once DIR/go exists) as service "leak", in its own
// cgroup with critical at 120 MiB and memory_max at 150 MiB, sampled every `interval`.
std::string contained_leaker_config(const TempDir& dir, const std::string& interval) {
  const std::string leaker = dir.write("leaker.py", kFastLeaker);
  return dir.write("memvisor.toml", "[service.leak]\ncommand = [\"python3\", \"" + leaker +
                                        "\", \"" + dir.path() +
                                        "\", \"400\"]\ncgroup = true\ninterval = \"" + interval +
                                        "\"\ncritical = \"120MiB\"\nmemory_max = \"150MiB\"\n"
                                        "restart_delay = \"200ms\"\n");
}

// memory_max: the controller writes it into the instance's cgroup before the worker starts; with
// the supervisor stopped (SIGSTOP) the runaway is killed by the kernel at that size, the
// controller restarts it, and once the supervisor runs again the exit reads oom_kill.
TEST(KernelLimits, MemoryMaxContainsARunawayWhileTheSupervisorIsStopped) {
  if (auto missing = cgroups_missing(); !missing.empty()) GTEST_SKIP() << missing;
  auto reader = CgroupMemoryReader::detect();
  ASSERT_TRUE(reader);
  TempDir dir;
  const std::string config = contained_leaker_config(dir, "1s");
  Memvisor memvisor(dir, {config});
  const auto started = memvisor.wait_events("started", 1, 20s, "leak.1");
  ASSERT_EQ(started.size(), 1u) << memvisor.err();
  const int worker = started[0].value("pid", 0);
  ASSERT_GT(worker, 0);

  // Written before the worker ran: its cgroup's limit is memory_max.
  auto own = reader->cgroup_of(memvisor.pid());
  ASSERT_TRUE(own);
  std::string parent = reader->hierarchy() + *own;
  while (parent.size() > 1 && parent.back() == '/') parent.pop_back();
  const std::string cgroup = parent + "/memvisor." + std::to_string(memvisor.pid()) + "/leak.1.1";
  const std::string limit_file = reader->version() == CgroupVersion::kV1
                                     ? cgroup + "/memory.limit_in_bytes"
                                     : cgroup + "/memory.max";
  EXPECT_EQ(number_in(limit_file), 150ull << 20) << limit_file;

  nlohmann::json status;
  ASSERT_TRUE(
      eventually([&] { return (status = status_of(memvisor)).contains("supervisor_pid"); }, 10s));
  const int supervisor = status["supervisor_pid"];
  ASSERT_GT(supervisor, 0);
  ASSERT_EQ(::kill(supervisor, SIGSTOP), 0);
  dir.write("go", "go");
  // Nothing of memvisor's watches now but the kernel: the worker dies at memory_max.
  const bool killed = eventually([&] { return !process_alive(worker); }, 30s);
  const std::string capped = read_text(dir.file("capped"));
  ::kill(supervisor, SIGCONT);
  ASSERT_TRUE(killed) << "the runaway was not contained";
  EXPECT_TRUE(capped.empty()) << "it reached its 400 MiB cap: " << capped;
  EXPECT_TRUE(process_alive(memvisor.pid()));

  const auto exited = memvisor.wait_events("exited", 1, 30s, "leak.1");
  ASSERT_EQ(exited.size(), 1u) << memvisor.err();
  EXPECT_EQ(exited[0]["pid"], worker);
  EXPECT_EQ(exited[0]["reason"], "oom_kill") << exited[0].dump();
  // No rule acted: the supervisor was stopped the whole time.
  EXPECT_EQ(memvisor.events("rule", "leak.1").size(), 0u);
  EXPECT_EQ(memvisor.wait_events("started", 2, 20s, "leak.1").size(), 2u) << memvisor.err();
  EXPECT_TRUE(process_alive(supervisor));
  memvisor.signal(SIGTERM);
  EXPECT_EQ(memvisor.wait(30s), 0) << memvisor.err();
}

// The same runaway while the supervisor hangs until the controller kills it: the exit's event,
// sent to the hung supervisor, is lost with it, so the next supervisor gets the OOM kill in its
// snapshot and writes the bundle, from the series its checkpoint kept. (No bundle was written:
// README says an OOM kill at memory_max is bundled like any other.)
TEST(KernelLimits, AnOomKillWhileTheSupervisorHangsIsBundledByTheNextOne) {
  if (auto missing = cgroups_missing(); !missing.empty()) GTEST_SKIP() << missing;
  TempDir dir;
  const std::string config = contained_leaker_config(dir, "200ms");
  Memvisor memvisor(
      dir, {config}, {},
      {"MEMVISOR_SUPERVISOR_HANG_TIMEOUT_MS=2000", "MEMVISOR_CHECKPOINT_PERIOD_MS=500"});
  const auto started = memvisor.wait_events("started", 1, 20s, "leak.1");
  ASSERT_EQ(started.size(), 1u) << memvisor.err();
  const int worker = started[0].value("pid", 0);
  nlohmann::json status;
  ASSERT_TRUE(
      eventually([&] { return (status = status_of(memvisor)).contains("supervisor_pid"); }, 10s));
  const int supervisor = status["supervisor_pid"];
  // A checkpoint holding some of the worker's series (one every 500 ms here).
  std::this_thread::sleep_for(2500ms);
  ASSERT_EQ(::kill(supervisor, SIGSTOP), 0);
  dir.write("go", "go");
  const auto exited = memvisor.wait_events("exited", 1, 30s, "leak.1");
  ASSERT_EQ(exited.size(), 1u) << memvisor.err();
  EXPECT_EQ(exited[0]["pid"], worker);
  EXPECT_EQ(exited[0]["reason"], "oom_kill") << exited[0].dump();
  ASSERT_EQ(memvisor.wait_events("supervisor_hung", 1, 30s).size(), 1u) << memvisor.err();
  const auto incidents = memvisor.wait_events("incident", 1, 30s, "leak.1");
  ASSERT_EQ(incidents.size(), 1u) << memvisor.err();
  ASSERT_TRUE(incidents[0].contains("path")) << incidents[0].dump();
  const std::string path = incidents[0]["path"];
  EXPECT_NE(path.find("oom_kill"), std::string::npos) << path;
  EXPECT_EQ(incidents[0]["pid"], worker);
  const std::string csv = read_text(path + "/memory.csv");
  EXPECT_GE(std::count(csv.begin(), csv.end(), '\n'), 3) << csv;
  memvisor.signal(SIGTERM);
  EXPECT_EQ(memvisor.wait(30s), 0) << memvisor.err();
}

// `memvisor check` refuses memory_max without cgroup = true, and at or below critical, with the
// place; the same service with both right passes (the negative control).
TEST(KernelLimits, CheckRefusesMemoryMaxWithoutCgroupOrBelowCritical) {
  TempDir dir;
  const std::string base = "[service.web]\ncommand = [\"sleep\", \"60\"]\n";
  const std::string no_cgroup = dir.write("a.toml", base + "memory_max = \"1GiB\"\n");
  CommandResult result = run_memvisor({"check", no_cgroup});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("a.toml:3:14: service.web.memory_max: needs cgroup = true"),
            std::string::npos)
      << result.err;

  const std::string below =
      dir.write("b.toml", base + "cgroup = true\ncritical = \"1GiB\"\nmemory_max = \"512MiB\"\n");
  result = run_memvisor({"check", below});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("b.toml:5:14: service.web.memory_max: expected above critical"),
            std::string::npos)
      << result.err;

  const std::string auto_without =
      dir.write("c.toml", base + "cgroup = true\nmemory_max = \"auto\"\n");
  result = run_memvisor({"check", auto_without});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("set critical"), std::string::npos) << result.err;

  const std::string good =
      dir.write("d.toml", base + "cgroup = true\ncritical = \"1GiB\"\nmemory_max = \"auto\"\n");
  result = run_memvisor({"check", good});
  EXPECT_EQ(result.exit_code, 0) << result.err;
}

}  // namespace
}  // namespace memvisor::testing
