// SignalFd: blocked signals arrive as readable data, and the previous mask is kept for children.
#include "os/signal_fd.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>

namespace memvisor {
namespace {

// Restores the test process's mask so later tests (and their children) are unaffected.
class SignalFdTest : public ::testing::Test {
 protected:
  void SetUp() override { ::sigprocmask(SIG_SETMASK, nullptr, &saved_); }
  void TearDown() override { ::sigprocmask(SIG_SETMASK, &saved_, nullptr); }
  sigset_t saved_{};
};

TEST_F(SignalFdTest, DeliversBlockedSignalsAsData) {
  auto signals = SignalFd::create({SIGUSR1, SIGUSR2});
  ASSERT_TRUE(signals.ok()) << signals.error().describe();
  EXPECT_TRUE(signals->read_pending().empty());

  ASSERT_EQ(::kill(::getpid(), SIGUSR1), 0);  // blocked, so it waits on the signalfd
  ASSERT_EQ(::kill(::getpid(), SIGUSR2), 0);
  pollfd p{signals->fd(), POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 1000), 1);
  std::vector<int> pending = signals->read_pending();
  std::sort(pending.begin(), pending.end());
  EXPECT_EQ(pending, (std::vector<int>{SIGUSR1, SIGUSR2}));
  EXPECT_TRUE(signals->read_pending().empty());
}

TEST_F(SignalFdTest, BlocksTheSignalsAndKeepsThePreviousMask) {
  sigset_t before;
  ::sigprocmask(SIG_SETMASK, nullptr, &before);
  ASSERT_FALSE(sigismember(&before, SIGUSR1));
  auto signals = SignalFd::create({SIGUSR1});
  ASSERT_TRUE(signals.ok());
  sigset_t now;
  ::sigprocmask(SIG_SETMASK, nullptr, &now);
  EXPECT_TRUE(sigismember(&now, SIGUSR1));
  EXPECT_FALSE(sigismember(&signals->previous_mask(), SIGUSR1));
  EXPECT_TRUE(::fcntl(signals->fd(), F_GETFD) & FD_CLOEXEC);
  EXPECT_TRUE(::fcntl(signals->fd(), F_GETFL) & O_NONBLOCK);
}

TEST_F(SignalFdTest, RejectsAnInvalidSignal) {
  auto signals = SignalFd::create({12345});
  ASSERT_FALSE(signals.ok());
  EXPECT_EQ(signals.error().errnum, EINVAL);
  EXPECT_NE(signals.error().message.find("12345"), std::string::npos);
}

}  // namespace
}  // namespace memvisor
