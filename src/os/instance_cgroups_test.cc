// InstanceCgroups on this machine's memory controller: a child joins its own cgroup through the
// open cgroup.procs, the cgroup counts its memory, and removal leaves nothing behind. Skipped
// with the reason where no memory cgroup can be made (no controller, no permission).
#include "os/instance_cgroups.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "os/files.h"
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

// A cgroup v2 tree as systemd leaves it for a unit with Delegate=yes: the unit's cgroup holds
// memvisor, has memory among its controllers but none enabled for children, and carries the
// delegate xattr. Plain files stand in for cgroupfs; the files the kernel would create with a
// directory are created here. Returns false when this filesystem keeps no xattrs.
struct FakeDelegation {
  TestTempDir dir;
  std::string root = dir / "cgroup";
  std::string unit = root + "/system.slice/memvisor.service";
  std::string pid = std::to_string(::getpid());

  bool make(const std::string& own, const std::string& delegated) {
    namespace fs = std::filesystem;
    fs::create_directories(root + own + "/main");
    fs::create_directories(unit + "/memvisor." + pid);
    fs::create_directories(dir / ("proc/" + pid));
    write(root + "/cgroup.controllers", "cpu memory pids\n");
    write(unit + "/cgroup.controllers", "memory pids\n");
    write(root + own + "/cgroup.procs", pid + "\n");
    write(root + own + "/cgroup.subtree_control", "");
    write(root + own + "/main/cgroup.procs", "");
    write(unit + "/cgroup.subtree_control", "");
    write(unit + "/memvisor." + pid + "/cgroup.subtree_control", "");
    write(dir / ("proc/" + pid + "/cgroup"), "0::" + own + "\n");
    if (delegated.empty()) return true;
    const std::string target = root + delegated;
    return ::setxattr(target.c_str(), "user.delegate", "1", 1, 0) == 0 ||
           ::setxattr(target.c_str(), "trusted.delegate", "1", 1, 0) == 0;
  }
  static void write(const std::string& path, const std::string& text) {
    std::ofstream(path) << text;
  }
  static std::string read(const std::string& path) {
    auto text = read_file(path);
    return text ? *text : "(unreadable)";
  }
};

TEST(InstanceCgroups, ADelegatedCgroupIsSplitMemvisorToALeafMemoryForTheChildren) {
  FakeDelegation fake;
  const std::string own = "/system.slice/memvisor.service";
  if (!fake.make(own, own)) GTEST_SKIP() << "no xattrs on " << fake.dir.path();
  auto cgroups = InstanceCgroups::create(fake.root, fake.dir / "proc");
  ASSERT_TRUE(cgroups.ok()) << cgroups.error().describe();
  EXPECT_EQ(cgroups->cgroup_path("web.1.1"), own + "/memvisor." + fake.pid + "/web.1.1");
  EXPECT_EQ(FakeDelegation::read(fake.unit + "/main/cgroup.procs"), fake.pid);
  EXPECT_EQ(FakeDelegation::read(fake.unit + "/cgroup.subtree_control"), "+memory");
}

TEST(InstanceCgroups, InASubgroupOfTheDelegatedCgroupMemvisorStaysWhereItIs) {
  FakeDelegation fake;  // systemd 254's DelegateSubgroup=supervisor
  const std::string own = "/system.slice/memvisor.service/supervisor";
  if (!fake.make(own, "/system.slice/memvisor.service")) GTEST_SKIP() << "no xattrs";
  auto cgroups = InstanceCgroups::create(fake.root, fake.dir / "proc");
  ASSERT_TRUE(cgroups.ok()) << cgroups.error().describe();
  EXPECT_EQ(cgroups->cgroup_path("web.1.1"),
            "/system.slice/memvisor.service/memvisor." + fake.pid + "/web.1.1");
  EXPECT_EQ(FakeDelegation::read(fake.root + own + "/main/cgroup.procs"), "");
  EXPECT_EQ(FakeDelegation::read(fake.unit + "/cgroup.subtree_control"), "+memory");
}

TEST(InstanceCgroups, ACgroupNobodyDelegatedIsLeftAlone) {
  FakeDelegation fake;
  const std::string own = "/system.slice/memvisor.service";
  ASSERT_TRUE(fake.make(own, ""));
  auto cgroups = InstanceCgroups::create(fake.root, fake.dir / "proc");
  ASSERT_FALSE(cgroups.ok());
  EXPECT_NE(cgroups.error().describe().find("Delegate=yes"), std::string::npos)
      << cgroups.error().describe();
  EXPECT_EQ(FakeDelegation::read(fake.unit + "/main/cgroup.procs"), "");
  EXPECT_EQ(FakeDelegation::read(fake.unit + "/cgroup.subtree_control"), "");
}

}  // namespace
}  // namespace memvisor
