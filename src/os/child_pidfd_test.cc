// open_child_pidfd against real forked children: the right child opens, a wrong parent, a wrong
// start time or an exited child does not.
#include "os/child_pidfd.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "os/pidfd.h"

#include "os/test_processes.h"

namespace memvisor {
namespace {

TEST(ChildPidfd, OpensOnlyTheChildItWasToldOf) {
  const pid_t pid = fork_pausing_child();
  ASSERT_GT(pid, 0);
  auto stat = read_proc_stat(pid);
  ASSERT_TRUE(stat.ok());
  const uint64_t start = stat->start_time_ticks;

  auto wrong_parent = open_child_pidfd(pid, ::getppid(), start);
  ASSERT_FALSE(wrong_parent.ok());
  EXPECT_NE(wrong_parent.error().message.find("is not a child of"), std::string::npos);
  auto wrong_start = open_child_pidfd(pid, ::getpid(), start + 1);
  ASSERT_FALSE(wrong_start.ok());
  EXPECT_NE(wrong_start.error().message.find("another process"), std::string::npos);

  auto pidfd = open_child_pidfd(pid, ::getpid(), start);
  ASSERT_TRUE(pidfd.ok()) << pidfd.error().describe();
  ASSERT_TRUE(pidfd_signal(pidfd->get(), SIGKILL).ok());
  // Exited but not reaped: a zombie is no child to signal.
  for (int i = 0; i < 100 && !pidfd_exited(pidfd->get()); ++i) ::usleep(10000);
  EXPECT_FALSE(open_child_pidfd(pid, ::getpid(), start).ok());
  ASSERT_EQ(::waitpid(pid, nullptr, 0), pid);
  EXPECT_FALSE(open_child_pidfd(pid, ::getpid(), start).ok());
}

}  // namespace
}  // namespace memvisor
