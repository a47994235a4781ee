// Kernel threshold notifications: on this machine's cgroup v1 a child allocating past an armed
// threshold makes the eventfd readable (and one below it does not); the v2 pieces (limits written
// into an instance cgroup, memory.events opened and consumed) on a fixture tree of plain files.
#include "os/cgroup_threshold.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "core/rules/kernel_thresholds.h"
#include "os/files.h"
#include "os/instance_cgroups.h"
#include "os/test_temp_dir.h"

namespace memvisor {
namespace {

constexpr uint64_t kThresholdMiB = 1024 * 1024;

bool eventfd_readable_within(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, timeout_ms) == 1 && (p.revents & POLLIN) != 0;
}

// A child joins `procs`, touches `mib` MiB, tells the parent through `ready`, and waits.
pid_t allocating_child(int procs, size_t mib, int ready) {
  const pid_t pid = ::fork();
  if (pid != 0) return pid;
  if (::write(procs, "0", 1) != 1) ::_exit(1);
  auto* block = static_cast<char*>(std::malloc(mib * kThresholdMiB));
  if (block == nullptr) ::_exit(1);
  std::memset(block, 1, mib * kThresholdMiB);
  (void)!::write(ready, "x", 1);
  ::pause();
  ::_exit(block[0]);  // read, so the allocation and its stores are not optimised away
}

// Runs a child allocating `mib` in a fresh instance cgroup armed at `threshold_mib`; whether the
// eventfd was signalled while the child held its memory.
std::optional<bool> notified(size_t mib, uint64_t threshold_mib) {
  auto cgroups = InstanceCgroups::create();
  if (!cgroups || cgroups->version() != CgroupVersion::kV1) return std::nullopt;
  auto procs = cgroups->make("t.1.1");
  if (!procs) return std::nullopt;
  auto armed = arm_v1_usage_threshold(cgroups->hierarchy() + cgroups->cgroup_path("t.1.1"),
                                      threshold_mib * kThresholdMiB);
  EXPECT_TRUE(armed.ok()) << armed.error().describe();
  if (!armed) return std::nullopt;
  int ready[2];
  EXPECT_EQ(::pipe(ready), 0);
  const pid_t child = allocating_child(procs->get(), mib, ready[1]);
  char byte = 0;
  EXPECT_EQ(::read(ready[0], &byte, 1), 1);
  const bool signalled = eventfd_readable_within(armed->get(), 2000);
  if (signalled) consume_eventfd(armed->get());
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  ::close(ready[0]);
  ::close(ready[1]);
  cgroups->remove("t.1.1");
  return signalled;
}

TEST(CgroupThreshold, V1UsageCrossingSignalsTheEventfdAndStayingBelowDoesNot) {
  auto cgroups = CgroupMemoryReader::detect();
  if (!cgroups || cgroups->version() != CgroupVersion::kV1) {
    GTEST_SKIP() << "no cgroup v1 memory controller here";
  }
  const auto above = notified(64, 32);
  if (!above) GTEST_SKIP() << "no memory cgroups of our own here";
  EXPECT_TRUE(*above);
  const auto below = notified(8, 64);  // negative control
  ASSERT_TRUE(below);
  EXPECT_FALSE(*below);
}

void write_text_file(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

// cgroup v2 as the kernel would lay it out for memvisor with memory enabled for its children;
// plain files stand in for the ones the kernel makes with each directory.
TEST(CgroupThreshold, V2LimitsAreWrittenIntoTheInstanceCgroupAndEventsConsumed) {
  TestTempDir dir;
  namespace fs = std::filesystem;
  const std::string root = dir / "cgroup";
  const std::string pid = std::to_string(::getpid());
  const std::string own = "/memvisor.service";
  const std::string instance = root + own + "/memvisor." + pid + "/web.1.1";
  fs::create_directories(instance);
  fs::create_directories(dir / ("proc/" + pid));
  write_text_file(root + "/cgroup.controllers", "cpu memory pids\n");
  write_text_file(root + own + "/cgroup.subtree_control", "memory\n");
  write_text_file(root + own + "/memvisor." + pid + "/cgroup.subtree_control", "");
  write_text_file(dir / ("proc/" + pid + "/cgroup"), "0::" + own + "\n");
  for (const char* file : {"cgroup.procs", "memory.max", "memory.high"}) {
    write_text_file(instance + "/" + file, "");
  }
  write_text_file(instance + "/memory.events", "low 0\nhigh 3\nmax 0\noom 0\noom_kill 0\n");

  auto cgroups = InstanceCgroups::create(root, dir / "proc");
  ASSERT_TRUE(cgroups.ok()) << cgroups.error().describe();
  ASSERT_EQ(cgroups->version(), CgroupVersion::kV2);
  ASSERT_TRUE(cgroups->make("web.1.1").ok());

  ServiceConfig service;
  service.cgroup = true;
  service.memory.limit = LimitRule{100 * kThresholdMiB, 3, std::nullopt};
  service.memory_max = 300 * kThresholdMiB;
  for (const CgroupWrite& write : cgroup_limit_writes(service, true)) {
    ASSERT_TRUE(cgroups->write_limit("web.1.1", write.file, write.bytes).ok()) << write.file;
  }
  EXPECT_EQ(*read_file(instance + "/memory.max"), std::to_string(300 * kThresholdMiB));
  EXPECT_EQ(*read_file(instance + "/memory.high"), std::to_string(100 * kThresholdMiB));
  // A file the kernel does not have is an error, not a silent success.
  EXPECT_FALSE(cgroups->write_limit("web.1.1", "memory.nonesuch", 1).ok());

  auto events = open_v2_memory_events(root + cgroups->cgroup_path("web.1.1"));
  ASSERT_TRUE(events.ok()) << events.error().describe();
  consume_v2_events(events->get());  // read to the end again: nothing left to read
  char byte = 0;
  EXPECT_EQ(::read(events->get(), &byte, 1), 0);
  EXPECT_FALSE(open_v2_memory_events(dir / "nonesuch").ok());
  cgroups->remove("web.1.1");
}

}  // namespace
}  // namespace memvisor
