// /proc parsing against a captured fixture, scans against a fake proc root, and the real /proc.
#include "os/proc.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>

#include "os/files.h"
#include "os/test_temp_dir.h"

#include "core/test_fixtures.h"

namespace memvisor {
namespace {

TEST(ParseProcStat, CapturedCommWithSpaceAndParen) {
  auto text = read_file(fixture_path("proc/stat_comm_with_space_and_paren"));
  ASSERT_TRUE(text.ok()) << text.error().describe();
  auto stat = parse_proc_stat(*text);
  ASSERT_TRUE(stat.has_value());
  EXPECT_EQ(stat->pid, 5225);
  EXPECT_EQ(stat->comm, "a b)c");
  EXPECT_EQ(stat->state, 'S');
  EXPECT_EQ(stat->ppid, 5224);
  EXPECT_EQ(stat->pgrp, 5218);
  EXPECT_EQ(stat->session, 2968);
  EXPECT_EQ(stat->start_time_ticks, 57374u);
}

TEST(ParseProcStat, RejectsMalformedText) {
  EXPECT_FALSE(parse_proc_stat("").has_value());
  EXPECT_FALSE(parse_proc_stat("12 (x").has_value());
  EXPECT_FALSE(parse_proc_stat("12 (x) S 1 2 3").has_value());  // truncated before field 22
  EXPECT_FALSE(
      parse_proc_stat("abc (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 7 0 0").has_value());
  auto ok = parse_proc_stat("12 (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 7 0 0");
  ASSERT_TRUE(ok.has_value());
  EXPECT_EQ(ok->start_time_ticks, 7u);
}

// A fake proc root: pid -> (ppid, pgrp).
class FakeProc : public ::testing::Test {
 protected:
  void add(pid_t pid, pid_t ppid, pid_t pgrp) {
    const std::string dir = root_ / std::to_string(pid);
    ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
    std::ofstream(dir + "/stat") << pid << " (p " << pid << ") S " << ppid << " " << pgrp
                                 << " 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 " << 1000 + pid << " 0 0\n";
  }
  void SetUp() override {
    ASSERT_TRUE(root_.ok());
    add(1, 0, 1);
    add(10, 1, 10);
    add(11, 10, 10);
    add(12, 10, 12);
    add(13, 11, 10);
    add(20, 1, 20);
    add(30, 31, 30);  // a ppid cycle: 30 <-> 31
    add(31, 30, 30);
    ASSERT_EQ(::mkdir((root_ / "99").c_str(), 0755), 0);    // exited while scanning: no stat
    ASSERT_EQ(::mkdir((root_ / "self").c_str(), 0755), 0);  // not a pid
  }
  TestTempDir root_;
};

TEST_F(FakeProc, ReadsOneStat) {
  auto stat = read_proc_stat(13, root_.path());
  ASSERT_TRUE(stat.ok()) << stat.error().describe();
  EXPECT_EQ(stat->comm, "p 13");
  EXPECT_EQ(stat->ppid, 11);
  EXPECT_EQ(stat->start_time_ticks, 1013u);
  auto missing = read_proc_stat(99, root_.path());
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().describe(),
            "open " + root_.path() + "/99/stat: No such file or directory");
}

TEST_F(FakeProc, ChildPidsAndGroupMembers) {
  EXPECT_EQ(child_pids(10, root_.path()), (std::vector<pid_t>{11, 12}));
  EXPECT_EQ(child_pids(1, root_.path()), (std::vector<pid_t>{10, 20}));
  EXPECT_TRUE(child_pids(13, root_.path()).empty());
  EXPECT_EQ(process_group_members(10, root_.path()), (std::vector<pid_t>{10, 11, 13}));
  EXPECT_TRUE(child_pids(1, "/nonexistent").empty());
}

TEST_F(FakeProc, DescendantWalk) {
  EXPECT_TRUE(is_same_or_descendant(13, 13, root_.path()));
  EXPECT_TRUE(is_same_or_descendant(13, 10, root_.path()));
  EXPECT_TRUE(is_same_or_descendant(13, 1, root_.path()));
  EXPECT_FALSE(is_same_or_descendant(13, 12, root_.path()));
  EXPECT_FALSE(is_same_or_descendant(20, 10, root_.path()));
  EXPECT_FALSE(is_same_or_descendant(99, 1, root_.path()));   // gone
  EXPECT_FALSE(is_same_or_descendant(30, 10, root_.path()));  // cycle ends at the hop limit
}

TEST(RealProc, SeesOurOwnChild) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::pause();
    ::_exit(0);
  }
  const std::vector<pid_t> children = child_pids(::getpid());
  EXPECT_NE(std::find(children.begin(), children.end(), child), children.end());
  EXPECT_TRUE(is_same_or_descendant(child, ::getpid()));
  EXPECT_TRUE(is_same_or_descendant(::getpid(), ::getppid()));
  auto self = read_proc_stat(::getpid());
  ASSERT_TRUE(self.ok());
  EXPECT_EQ(self->ppid, ::getppid());
  EXPECT_EQ(self->pgrp, ::getpgrp());
  const std::vector<pid_t> group = process_group_members(::getpgrp());
  EXPECT_NE(std::find(group.begin(), group.end(), ::getpid()), group.end());
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
}

}  // namespace
}  // namespace memvisor
