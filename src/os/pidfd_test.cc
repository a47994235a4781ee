// pidfd_open/pidfd_signal against a real forked child.
#include "os/pidfd.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>

namespace memvisor {
namespace {

pid_t fork_pausing_child() {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::pause();
    ::_exit(0);
  }
  return pid;
}

TEST(Pidfd, SignalsTheProcessThenReportsEsrchOnceReaped) {
  const pid_t pid = fork_pausing_child();
  ASSERT_GT(pid, 0);
  auto pidfd = pidfd_open(pid);
  ASSERT_TRUE(pidfd.ok()) << pidfd.error().describe();

  ASSERT_TRUE(pidfd_signal(pidfd->get(), SIGKILL).ok());
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_EQ(WTERMSIG(status), SIGKILL);

  Status again = pidfd_signal(pidfd->get(), SIGTERM);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.error().errnum, ESRCH);
  EXPECT_NE(again.error().message.find("pidfd"), std::string::npos);
}

TEST(Pidfd, ExitedOnlyOnceTheProcessHasExited) {
  const pid_t pid = fork_pausing_child();
  ASSERT_GT(pid, 0);
  auto pidfd = pidfd_open(pid);
  ASSERT_TRUE(pidfd.ok()) << pidfd.error().describe();
  EXPECT_FALSE(pidfd_exited(pidfd->get()));
  ASSERT_TRUE(pidfd_signal(pidfd->get(), SIGKILL).ok());
  ASSERT_EQ(::waitpid(pid, nullptr, 0), pid);
  EXPECT_TRUE(pidfd_exited(pidfd->get()));
}

TEST(Pidfd, IsCloseOnExec) {
  auto pidfd = pidfd_open(::getpid());
  ASSERT_TRUE(pidfd.ok());
  EXPECT_TRUE(::fcntl(pidfd->get(), F_GETFD) & FD_CLOEXEC);
}

TEST(Pidfd, OpenOfMissingProcessFailsWithItsPid) {
  auto pidfd = pidfd_open(INT_MAX);
  ASSERT_FALSE(pidfd.ok());
  EXPECT_EQ(pidfd.error().errnum, ESRCH);
  EXPECT_EQ(pidfd.error().describe(), "pidfd_open pid 2147483647: No such process");
}

}  // namespace
}  // namespace memvisor
