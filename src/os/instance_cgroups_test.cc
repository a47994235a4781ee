// InstanceCgroups on this machine's memory controller: a child joins its own cgroup through the
// open cgroup.procs, the cgroup counts its memory, and removal leaves nothing behind. Skipped
// with the reason where no memory cgroup can be made (no controller, no permission).
#include "os/instance_cgroups.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "os/test_temp_dir.h"

namespace memvisor {
namespace {

TEST(InstanceCgroups, ChildJoinsItsOwnCgroupWhichCountsItsMemoryAndIsRemoved) {
  auto cgroups = InstanceCgroups::create();
  if (!cgroups) GTEST_SKIP() << "no memory cgroups here: " << cgroups.error().describe();
  const std::string parent_dir = cgroups->hierarchy() + cgroups->cgroup_path("");
  ASSERT_TRUE(std::filesystem::is_directory(parent_dir)) << parent_dir;
  auto procs = cgroups->make("web.1.1");
  ASSERT_TRUE(procs.ok()) << procs.error().describe();

  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // What spawn_process does before exec: "0" is the writer itself.
    if (::write(procs->get(), "0", 1) != 1) ::_exit(1);
    auto* block = static_cast<char*>(std::malloc(64 << 20));
    if (block == nullptr) ::_exit(1);
    std::memset(block, 1, 64 << 20);
    if (::write(ready[1], "x", 1) != 1) ::_exit(1);
    ::pause();
    ::_exit(block[0]);
  }
  ::close(ready[1]);
  char byte = 0;
  const bool allocated = ::read(ready[0], &byte, 1) == 1;
  ::close(ready[0]);

  auto reader = CgroupMemoryReader::detect();
  ASSERT_TRUE(reader.ok()) << reader.error().describe();
  auto of_child = reader->cgroup_of(child);
  auto sample = reader->read(cgroups->cgroup_path("web.1.1"));
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  cgroups->remove("web.1.1");
  const bool removed = !std::filesystem::exists(parent_dir + "web.1.1");

  ASSERT_TRUE(allocated);
  ASSERT_TRUE(of_child.ok()) << of_child.error().describe();
  EXPECT_EQ(*of_child, cgroups->cgroup_path("web.1.1"));
  ASSERT_TRUE(sample.ok()) << sample.error().describe();
  EXPECT_GE(sample->current, uint64_t{60} << 20);
  EXPECT_TRUE(removed);
  // The parent goes with the object.
  { auto gone = std::move(*cgroups); }
  EXPECT_FALSE(std::filesystem::exists(parent_dir)) << parent_dir;
}

// A child that has joined `procs`'s cgroup and waits to be killed.
pid_t child_in(const UniqueFd& procs) {
  int joined[2];
  if (::pipe(joined) != 0) return -1;
  const pid_t child = ::fork();
  if (child == 0) {
    if (::write(procs.get(), "0", 1) != 1 || ::write(joined[1], "x", 1) != 1) ::_exit(1);
    for (;;) ::pause();
  }
  ::close(joined[1]);
  char byte = 0;
  const bool ok = ::read(joined[0], &byte, 1) == 1;
  ::close(joined[0]);
  return ok ? child : -1;
}

TEST(InstanceCgroups, ABusyDirectoryGoesOnceItsLastProcessIsReaped) {
  auto cgroups = InstanceCgroups::create();
  if (!cgroups) GTEST_SKIP() << "no memory cgroups here: " << cgroups.error().describe();
  const std::string dir = cgroups->hierarchy() + cgroups->cgroup_path("web.1.1");
  auto procs = cgroups->make("web.1.1");
  ASSERT_TRUE(procs.ok()) << procs.error().describe();
  const pid_t child = child_in(*procs);
  ASSERT_GT(child, 0);
  cgroups->remove("web.1.1");  // the child is still in it: killed, the directory queued
  EXPECT_EQ(cgroups->busy(), 1u);
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  cgroups->retry_removals();
  EXPECT_EQ(cgroups->busy(), 0u);
  EXPECT_FALSE(std::filesystem::exists(dir)) << dir;
}

TEST(InstanceCgroups, ANameMadeAgainLeavesTheRemovalQueueSoItsNewProcessIsSpared) {
  auto cgroups = InstanceCgroups::create();
  if (!cgroups) GTEST_SKIP() << "no memory cgroups here: " << cgroups.error().describe();
  const std::string dir = cgroups->hierarchy() + cgroups->cgroup_path("web.2.1");
  auto first = cgroups->make("web.2.1");
  ASSERT_TRUE(first.ok()) << first.error().describe();
  const pid_t old_child = child_in(*first);
  ASSERT_GT(old_child, 0);
  cgroups->remove("web.2.1");
  ASSERT_EQ(cgroups->busy(), 1u);
  auto again = cgroups->make("web.2.1");  // a new process of the same name
  ASSERT_TRUE(again.ok()) << again.error().describe();
  EXPECT_EQ(cgroups->busy(), 0u);
  const pid_t new_child = child_in(*again);
  ASSERT_GT(new_child, 0);
  ::waitpid(old_child, nullptr, 0);
  cgroups->retry_removals();
  int status = 0;
  EXPECT_EQ(::waitpid(new_child, &status, WNOHANG), 0) << "the new process was killed";
  EXPECT_TRUE(std::filesystem::exists(dir));
  cgroups->remove("web.2.1");
  ::waitpid(new_child, nullptr, 0);
  cgroups->retry_removals();
  EXPECT_FALSE(std::filesystem::exists(dir)) << dir;
}

TEST(InstanceCgroups, NoMemoryControllerIsAnErrorThatSaysSo) {
  TestTempDir root;  // an empty cgroup root
  auto cgroups = InstanceCgroups::create(root.path());
  ASSERT_FALSE(cgroups.ok());
  EXPECT_FALSE(cgroups.error().describe().empty());
}

}  // namespace
}  // namespace memvisor
