// The kernel's OOM killer against a real memvisor: memvisor runs inside a small memory cgroup the
// test makes, a worker there allocates fast until the kernel kills it. memvisor must survive
// (its oom_score_adj is low), name the kill ("oom_kill" in the event and /metrics) and write a
// bundle; a plain `kill -9` stays a crash. Skipped only where no memory cgroup can be made.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "harness.h"
#include "http_client.h"
#include "os/cgroup_memory_reader.h"

namespace memvisor::testing {
namespace {

// The machine's OOM kill count, as /proc/vmstat says it ("" where unreadable).
std::string vmstat_oom_kills() {
  std::ifstream vmstat("/proc/vmstat");
  for (std::string key, value; vmstat >> key >> value;) {
    if (key == "oom_kill") return value;
  }
  return "";
}

// Whether the kernel log may be read here: memvisor then names a victim without a cgroup of its
// own by pid, from the OOM killer's own record.
bool kernel_log_readable() {
  const int fd = ::open("/dev/kmsg", O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return false;
  ::close(fd);
  return true;
}

namespace fs = std::filesystem;

// Generation 1 waits for the file `go` (so memvisor samples it first), then allocates and
// touches 8 MiB every 20 ms until the kernel kills it; later generations just sleep.
const char* kHog = R"(import os, sys, time
d = sys.argv[1]
if os.environ["MEMVISOR_GENERATION"] == "1":
    while not os.path.exists(os.path.join(d, "go")):
        time.sleep(0.05)
    hog = []
    while True:
        hog.append(b"\x01" * (8 << 20))
        time.sleep(0.02)
while True:
    time.sleep(1)
)";

bool write_file(const std::string& path, const std::string& text) {
  std::ofstream out(path);
  out << text;
  out.flush();
  return static_cast<bool>(out);
}

// A memory cgroup beside the test's own, limited to `limit` bytes without swap; removed (once
// empty) at the end. `error` says why it could not be made.
struct LimitedCgroup {
  std::string dir;
  std::string error;

  explicit LimitedCgroup(uint64_t limit) {
    auto reader = CgroupMemoryReader::detect();
    if (!reader) {
      error = "no memory cgroup: " + reader.error().describe();
      return;
    }
    auto own = reader->cgroup_of(::getpid());
    if (!own) {
      error = "cannot read this process's memory cgroup: " + own.error().describe();
      return;
    }
    const bool v1 = reader->version() == CgroupVersion::kV1;
    std::string parent = reader->hierarchy() + *own;
    while (parent.size() > 1 && parent.back() == '/') parent.pop_back();
    // v2: a child of our cgroup can only limit memory when memory is enabled for it.
    if (!v1) write_file(parent + "/cgroup.subtree_control", "+memory");
    const std::string path = parent + "/oom-test." + std::to_string(::getpid());
    if (::mkdir(path.c_str(), 0755) < 0 && errno != EEXIST) {
      error = "cannot create " + path + ": " + std::strerror(errno);
      return;
    }
    dir = path;
    const std::string bytes = std::to_string(limit);
    const bool limited =
        v1 ? write_file(dir + "/memory.limit_in_bytes", bytes)
           : write_file(dir + "/memory.max", bytes) && write_file(dir + "/memory.swap.max", "0");
    if (!limited) {
      error = "cannot limit memory in " + dir;
      return;
    }
    if (v1) {  // no swap for it either (where the machine has swap accounting)
      write_file(dir + "/memory.swappiness", "0");
      if (fs::exists(dir + "/memory.memsw.limit_in_bytes")) {
        write_file(dir + "/memory.memsw.limit_in_bytes", bytes);
      }
    }
  }
  ~LimitedCgroup() {
    if (dir.empty() || !fs::exists(dir)) return;
    for (const auto& entry : fs::directory_iterator(dir)) {
      if (entry.is_directory()) ::rmdir(entry.path().c_str());
    }
    ::rmdir(dir.c_str());
  }
  // Runs memvisor in it: a shell joins the cgroup, then execs memvisor.
  std::vector<std::string> wrapper() const {
    return {"/bin/sh", "-c", "echo $$ > " + dir + "/cgroup.procs && exec \"$@\"", "sh"};
  }
};

int oom_score_adj(pid_t pid) {
  const std::string text = read_text("/proc/" + std::to_string(pid) + "/oom_score_adj");
  return text.empty() ? 9999 : std::stoi(text);
}

// CAP_SYS_RESOURCE in this process's effective set (bit 24 of CapEff): what lowering an
// oom_score_adj takes, and what memvisor, started from here, will have.
bool may_lower_oom_score() {
  const std::string status = read_text("/proc/self/status");
  const size_t at = status.find("CapEff:");
  if (at == std::string::npos) return false;
  const uint64_t caps = std::stoull(status.substr(at + 7, 24), nullptr, 16);
  return (caps >> 24) & 1;
}

pid_t supervisor_of(pid_t memvisor) {
  for (pid_t pid : descendants(memvisor)) {
    if (read_text("/proc/" + std::to_string(pid) + "/cmdline").find("supervise") !=
        std::string::npos) {
      return pid;
    }
  }
  return 0;
}

int started_pid(const Memvisor& memvisor, const std::string& instance, size_t nth) {
  const auto started = memvisor.wait_events("started", nth, 20s, instance);
  return started.size() >= nth ? started[nth - 1].value("pid", 0) : 0;
}

// Runs the hog (with or without a cgroup of its own) and a sleeping "plain" service; returns once
// the hog is OOM-killed and checked. Where memvisor may lower its oom_score_adj, everything runs
// in one 384 MiB cgroup (room for an ASan build of memvisor), which checks that the kernel passes
// memvisor over. Where it may not (containers drop CAP_SYS_RESOURCE, even for root), memvisor
// keeps the score it inherited, the same as the workers', and the kernel may pick it, most of all
// a sanitizer build ten times its release size: seen when a second OOM follows the first before
// the hog's memory is uncharged. There only the hog is confined (README "OOM kills": memvisor
// survives only with the capability), in the test's cgroup, or in its own with `memory_max`.
void expect_oom_kill_named(bool own_cgroup) {
  LimitedCgroup limited(384ull << 20);
  if (!limited.error.empty()) GTEST_SKIP() << limited.error;
  const bool protected_memvisor = may_lower_oom_score();
  TempDir dir;
  const std::string hog = dir.write("hog.py", kHog);
  const int port = free_port();
  ASSERT_GT(port, 0);
  std::string hog_command = "[\"python3\", \"" + hog + "\", \"" + dir.path() + "\"]";
  std::string hog_confined;
  if (!protected_memvisor && own_cgroup) hog_confined = "memory_max = \"300MiB\"\n";
  if (!protected_memvisor && !own_cgroup) {
    hog_command = "[\"/bin/sh\", \"-c\", \"echo $$ > " + limited.dir +
                  "/cgroup.procs && exec python3 " + hog + " " + dir.path() + "\"]";
  }
  const std::string config =
      dir.write("memvisor.toml",
                "[supervisor]\nhttp = \"127.0.0.1:" + std::to_string(port) +
                    "\"\n\n[service.hog]\ncommand = " + hog_command +
                    "\ninterval = \"100ms\"\nrestart_delay = \"200ms\"\n" +
                    (own_cgroup ? "cgroup = true\n" : "") + hog_confined +
                    "\n[service.plain]\ncommand = [\"sleep\", \"600\"]\noom_score_adj = 300\n"
                    "restart_delay = \"200ms\"\n");
  Memvisor memvisor(dir, {config},
                    protected_memvisor ? limited.wrapper() : std::vector<std::string>{});
  const int hog_pid = started_pid(memvisor, "hog.1", 1);
  const int plain_pid = started_pid(memvisor, "plain.1", 1);
  ASSERT_GT(hog_pid, 0) << memvisor.err();
  ASSERT_GT(plain_pid, 0) << memvisor.err();

  // memvisor's own processes low, the workers at their service's value (else they would inherit
  // memvisor's). Lowering needs CAP_SYS_RESOURCE, which some containers drop even for root:
  // memvisor then says so once and keeps what it inherited.
  pid_t supervisor = 0;
  ASSERT_TRUE(eventually([&] { return (supervisor = supervisor_of(memvisor.pid())) != 0; }, 10s));
  const int own = protected_memvisor ? -900 : oom_score_adj(::getpid());
  EXPECT_EQ(oom_score_adj(memvisor.pid()), own);
  EXPECT_EQ(oom_score_adj(supervisor), own);
  if (!protected_memvisor) {
    const std::string err = memvisor.err();
    const std::string warning = "cannot set memvisor's oom_score_adj to -900";
    EXPECT_NE(err.find(warning), std::string::npos) << err;
    EXPECT_EQ(err.find(warning), err.rfind(warning)) << "said more than once: " << err;
    // ... with what it keeps and what the operator can do without the capability.
    if (own < 1000) {
      const std::string remedy = "it keeps " + std::to_string(own) +
                                 ", and so does every worker whose service asks for less";
      EXPECT_NE(err.find(remedy), std::string::npos) << err;
      EXPECT_NE(err.find("give the services an oom_score_adj above " + std::to_string(own)),
                std::string::npos)
          << err;
    }
  }
  EXPECT_EQ(oom_score_adj(hog_pid), 0);
  EXPECT_EQ(oom_score_adj(plain_pid), 300);

  // Let the supervisor retain a few samples of the hog, then let it run away.
  ASSERT_TRUE(eventually(
      [&] {
        auto reply = http_get(port, "/metrics");
        return reply && reply->body.find("service=\"hog\"") != std::string::npos;
      },
      10s));
  ASSERT_TRUE(write_file(dir.file("go"), "go"));

  const auto exited = memvisor.wait_events("exited", 1, 30s, "hog.1");
  ASSERT_EQ(exited.size(), 1u) << memvisor.err();
  EXPECT_EQ(exited[0]["reason"], "oom_kill") << exited[0].dump();
  EXPECT_EQ(exited[0]["signal"], "SIGKILL") << exited[0].dump();
  EXPECT_EQ(exited[0]["pid"], hog_pid);
  const std::string evidence = own_cgroup ? "its cgroup"
                               : kernel_log_readable()
                                   ? "the kernel log: Killed process " + std::to_string(hog_pid)
                                   : "/proc/vmstat";
  EXPECT_NE(exited[0].value("oom", "").find(evidence), std::string::npos) << exited[0].dump();

  // The bundle: from the series retained up to the kill.
  const auto incidents = memvisor.wait_events("incident", 1, 30s, "hog.1");
  // (Seen once under the sanitizers in CI: no bundle, and memvisor's log stopped before the
  // exit's line although events.jsonl had it. What each process was doing is for the next time.)
  ASSERT_EQ(incidents.size(), 1u) << memvisor.err() << process_states(memvisor.pid())
                                  << "cgroup usage "
                                  << read_text(limited.dir + "/memory.usage_in_bytes")
                                  << read_text(limited.dir + "/memory.oom_control")
                                  << read_text(limited.dir + "/memory.events");
  ASSERT_TRUE(incidents[0].contains("path")) << incidents[0].dump();
  const std::string path = incidents[0]["path"];
  EXPECT_NE(path.find("oom_kill"), std::string::npos) << path;
  const std::string csv = read_text(path + "/memory.csv");
  EXPECT_GE(std::count(csv.begin(), csv.end(), '\n'), 3) << csv;
  const std::string summary = read_text(path + "/summary.txt");
  EXPECT_NE(summary.find("trigger:    oom_kill"), std::string::npos) << summary;
  EXPECT_NE(summary.find("rule:       none: the kernel's OOM killer acted"), std::string::npos)
      << summary;

  // memvisor survived and restarts the worker; /metrics counts the restart as an oom_kill.
  ASSERT_GT(started_pid(memvisor, "hog.1", 2), 0) << memvisor.err();
  EXPECT_TRUE(process_alive(memvisor.pid()));
  EXPECT_TRUE(process_alive(supervisor)) << memvisor.err();
  const std::string counted =
      "memvisor_instance_restarts_total{service=\"hog\",instance=\"1\",reason=\"oom_kill\"} 1\n";
  std::string metrics;
  EXPECT_TRUE(eventually(
      [&] {
        auto reply = http_get(port, "/metrics");
        metrics = reply ? reply->body : "";
        return metrics.find(counted) != std::string::npos;
      },
      10s))
      << metrics;

  // Negative control: a plain kill -9 is a crash. The fallback compares with a reading one to
  // two seconds old, so the machine's count must hold still from 3 s before the kill (past the
  // OOM kill above, and past one in a parallel test) until the exit is reported.
  const std::string machine_before = vmstat_oom_kills();
  std::this_thread::sleep_for(3s);
  ASSERT_EQ(::kill(plain_pid, SIGKILL), 0);
  const auto plain_exit = memvisor.wait_events("exited", 1, 20s, "plain.1");
  ASSERT_EQ(plain_exit.size(), 1u) << memvisor.err();
  // The count alone cannot tell this kill from another process's OOM kill at the same moment
  // (README "OOM kills"): where the kernel log is not readable and the machine's count moved
  // meanwhile (other tests OOM-kill in parallel under ctest -j), this control says nothing.
  if (kernel_log_readable() || vmstat_oom_kills() == machine_before) {
    EXPECT_EQ(plain_exit[0]["reason"], "crash") << plain_exit[0].dump();
    EXPECT_EQ(memvisor.events("incident", "plain.1").size(), 0u);
  }

  memvisor.signal(SIGTERM);
  EXPECT_EQ(memvisor.wait(30s), 0) << memvisor.err();
}

TEST(OomKills, InItsOwnCgroupNamedWithABundleAndMemvisorSurvives) {
  expect_oom_kill_named(true);
}

TEST(OomKills, WithoutACgroupNamedFromTheMachinesCount) {
  expect_oom_kill_named(false);
}

}  // namespace
}  // namespace memvisor::testing
