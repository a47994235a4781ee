// cgroup = true on the machine's real memory controller: each worker process in a cgroup of its
// own with what it forks, the limit rule measuring that cgroup, a fresh cgroup for the
// replacement, and nothing left behind. Skipped where no memory cgroup can be made.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <sstream>

#include "harness.h"
#include "http_client.h"
#include "os/instance_cgroups.h"

namespace memvisor::testing {
namespace {

// Each process writes "PID CHILD_PID" to wN.GEN once it has forked. The child of instance 1's
// first process holds 96 MiB once the file `grow` exists: the worker's own PSS stays small, only
// its cgroup sees the memory.
const char* kWorker = R"(import os, sys, time
d = sys.argv[1]
label = os.environ["MEMVISOR_INSTANCE"] + "." + os.environ["MEMVISOR_GENERATION"]
child = os.fork()
if child == 0:
    if label == "1.1":
        while not os.path.exists(os.path.join(d, "grow")):
            time.sleep(0.05)
        hog = b"\x01" * (96 << 20)
    while True:
        time.sleep(1)
with open(os.path.join(d, "w" + label + ".tmp"), "w") as f:
    f.write("%d %d" % (os.getpid(), child))
os.rename(os.path.join(d, "w" + label + ".tmp"), os.path.join(d, "w" + label))
while True:
    time.sleep(1)
)";

// The memory line of /proc/PID/cgroup: v1 "N:memory:/path" (maybe among other controllers),
// v2 "0::/path".
std::string memory_cgroup_of(pid_t pid, CgroupVersion version) {
  const std::string text = read_text("/proc/" + std::to_string(pid) + "/cgroup");
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = std::min(text.find('\n', start), text.size());
    const std::string line = text.substr(start, end - start);
    start = end + 1;
    const size_t first = line.find(':');
    const size_t second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    const std::string controllers = "," + line.substr(first + 1, second - first - 1) + ",";
    if (version == CgroupVersion::kV2 ? line.starts_with("0::")
                                      : controllers.find(",memory,") != std::string::npos) {
      return line.substr(second + 1);
    }
  }
  return "";
}

std::pair<pid_t, pid_t> worker_pids(const TempDir& dir, const std::string& label) {
  std::istringstream text(read_text(dir.file("w" + label)));
  pid_t pid = 0, child = 0;
  text >> pid >> child;
  return {pid, child};
}

// A failed run may leave memvisor killed: its cgroups go with the test, not with the machine.
struct RemoveLeftovers {
  std::string dir;
  ~RemoveLeftovers() {
    if (dir.empty() || !std::filesystem::exists(dir)) return;
    for (const auto& entry : std::filesystem::directory_iterator(dir)) {
      if (entry.is_directory()) std::filesystem::remove(entry.path());
    }
    std::filesystem::remove(dir);
  }
};

TEST(InstanceCgroups, EachProcessInItsOwnCgroupMeasuredByTheLimitRuleAndRemoved) {
  CgroupVersion version = CgroupVersion::kV1;
  std::string hierarchy;
  {
    auto probe = InstanceCgroups::create();  // what memvisor will try: removed at once
    if (!probe) GTEST_SKIP() << "no usable memory cgroup controller: " << probe.error().describe();
    version = probe->version();
    hierarchy = probe->hierarchy();
  }
  TempDir dir;
  const std::string worker = dir.write("worker.py", kWorker);
  const int port = free_port();
  Memvisor memvisor(
      dir, {"--http", "127.0.0.1:" + std::to_string(port), "--name", "cg", "--instances", "2",
            "--cgroup", "--interval", "100ms", "--limit", "64MiB", "--limit-for", "2", "--metric",
            "cgroup", "--", "python3", worker, dir.path()});
  const std::string parent =
      memory_cgroup_of(memvisor.pid(), version) + "/memvisor." + std::to_string(memvisor.pid());
  RemoveLeftovers cleanup{hierarchy + parent};
  auto cgroup_dir = [&](const std::string& name) { return hierarchy + parent + "/" + name; };

  ASSERT_TRUE(eventually(
      [&] {
        return std::filesystem::exists(dir.file("w1.1")) &&
               std::filesystem::exists(dir.file("w2.1"));
      },
      30s))
      << memvisor.err();
  for (const std::string label : {"1.1", "2.1"}) {
    const auto [pid, child] = worker_pids(dir, label);
    ASSERT_GT(pid, 0);
    ASSERT_GT(child, 0);
    EXPECT_EQ(memory_cgroup_of(pid, version), parent + "/cg." + label);
    EXPECT_EQ(memory_cgroup_of(child, version), parent + "/cg." + label) << "the forked child";
  }

  // The supervisor learns each process's cgroup from the controller, again after a restart.
  nlohmann::json status = memvisor.status();
  ASSERT_TRUE(status.is_object()) << memvisor.err();
  ASSERT_EQ(::kill(status["supervisor_pid"].get<int>(), SIGKILL), 0);
  const int killed = status["supervisor_pid"];
  ASSERT_TRUE(eventually(
      [&] {
        status = memvisor.status();
        if (!status.is_object() || status["supervisor_pid"] == killed) return false;
        int measured = 0;
        for (const auto& record : status["instances"]) {
          measured += record["memory"].is_object() && record["memory"].contains("cgroup");
        }
        return measured == 2;
      },
      30s))
      << status.dump() << memvisor.err();
  for (const auto& record : status["instances"]) {
    const std::string label = std::to_string(record["instance"].get<int>()) + ".1";
    EXPECT_EQ(record["cgroup"], parent + "/cg." + label) << record.dump();
    EXPECT_GT(record["memory"]["cgroup"].get<double>(), 0) << record.dump();
  }

  std::string metrics;
  EXPECT_TRUE(eventually(
      [&] {
        auto reply = http_get(port, "/metrics");
        metrics = reply ? reply->body : "";
        return metrics.find("{service=\"cg\",instance=\"2\",kind=\"cgroup\"} ") !=
               std::string::npos;
      },
      20s))
      << metrics;

  dir.write("grow", "");
  const auto rules = memvisor.wait_events("rule", 1, 60s, "cg.1");
  ASSERT_EQ(rules.size(), 1u) << memvisor.err();
  EXPECT_EQ(rules[0]["rule"], "limit");
  EXPECT_EQ(rules[0]["metric"], "cgroup");
  EXPECT_GT(rules[0]["value"].get<double>(), 64.0 * (1 << 20));
  ASSERT_EQ(memvisor.wait_events("recycled", 1, 60s, "cg.1").size(), 1u) << memvisor.err();

  ASSERT_TRUE(eventually([&] { return std::filesystem::exists(dir.file("w1.2")); }, 30s));
  // The events log says where each process went.
  for (const auto& started : memvisor.events("started", "cg.1")) {
    EXPECT_EQ(started["cgroup"],
              parent + "/cg.1." + std::to_string(started["generation"].get<int>()));
  }
  const auto [replacement, replacement_child] = worker_pids(dir, "1.2");
  EXPECT_EQ(memory_cgroup_of(replacement, version), parent + "/cg.1.2");
  EXPECT_EQ(memory_cgroup_of(replacement_child, version), parent + "/cg.1.2");
  EXPECT_TRUE(eventually([&] { return !std::filesystem::exists(cgroup_dir("cg.1.1")); }, 30s))
      << cgroup_dir("cg.1.1") << " is still there";
  EXPECT_TRUE(std::filesystem::exists(cgroup_dir("cg.2.1")));
  EXPECT_TRUE(memvisor.events("rule", "cg.2").empty());

  memvisor.signal(SIGTERM);
  ASSERT_EQ(memvisor.wait(60s), 0) << memvisor.err();
  EXPECT_FALSE(std::filesystem::exists(hierarchy + parent)) << hierarchy + parent;
}

TEST(InstanceCgroups, WithoutAccessTheServiceRunsWithoutAndMemvisorSaysWhyOnce) {
  std::vector<std::string> wrapper;
  if (::geteuid() == 0) {
    wrapper = {"setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"};
    if (!have_program("setpriv")) GTEST_SKIP() << "no setpriv to run memvisor as nobody";
  } else if (InstanceCgroups::create().ok()) {
    GTEST_SKIP() << "this user may make memory cgroups: there is no failure to show";
  }
  TempDir dir;
  ASSERT_EQ(::chmod(dir.path().c_str(), 0777), 0);  // nobody makes the state dir in it
  Memvisor memvisor(dir, {"--name", "cg", "--cgroup", "--interval", "100ms", "--", "sleep", "60"},
                    wrapper);
  ASSERT_EQ(memvisor.wait_events("ready", 1, 20s, "cg.1").size(), 1u) << memvisor.err();
  nlohmann::json status;
  ASSERT_TRUE(eventually(
      [&] {
        status = memvisor.status();
        return status.is_object() && status["instances"][0]["memory"].is_object();
      },
      20s))
      << memvisor.err();
  EXPECT_EQ(status["instances"][0]["state"], "running");
  EXPECT_FALSE(status["instances"][0].contains("cgroup")) << status.dump();
  const std::string err = memvisor.err();
  const std::string said =
      "memvisor: cgroup = true (cg): cannot make memory cgroups for instances: ";
  const size_t at = err.find(said);
  ASSERT_NE(at, std::string::npos) << err;
  EXPECT_EQ(err.find(said, at + 1), std::string::npos) << "said twice: " << err;
  EXPECT_NE(err.find("those services run without cgroups of their own\n", at), std::string::npos)
      << err;
}

}  // namespace
}  // namespace memvisor::testing
