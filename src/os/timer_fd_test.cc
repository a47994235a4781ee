// TimerFd against the real monotonic clock: past deadlines fire, disarming silences it.
#include "os/timer_fd.h"

#include <gtest/gtest.h>
#include <poll.h>

namespace memvisor {
namespace {

using namespace std::chrono_literals;

bool readable_within(int fd, int timeout_ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, timeout_ms) == 1;
}

TEST(TimerFd, PastDeadlineFiresAtOnce) {
  auto timer = TimerFd::create();
  ASSERT_TRUE(timer.ok()) << timer.error().describe();
  ASSERT_TRUE(timer->arm(std::chrono::steady_clock::now() - 1h).ok());
  EXPECT_TRUE(readable_within(timer->fd(), 200));
  timer->acknowledge();
  EXPECT_FALSE(readable_within(timer->fd(), 0));
}

TEST(TimerFd, DeadlineAtTheClockEpochStillFires) {
  auto timer = TimerFd::create();
  ASSERT_TRUE(timer.ok());
  ASSERT_TRUE(timer->arm(MonoTime{}).ok());  // all-zero itimerspec would mean "disarm"
  EXPECT_TRUE(readable_within(timer->fd(), 200));
}

TEST(TimerFd, FutureDeadlineFiresWhenDue) {
  auto timer = TimerFd::create();
  ASSERT_TRUE(timer.ok());
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(timer->arm(start + 30ms).ok());
  EXPECT_FALSE(readable_within(timer->fd(), 0));
  EXPECT_TRUE(readable_within(timer->fd(), 1000));
  EXPECT_GE(std::chrono::steady_clock::now() - start, 30ms);
}

TEST(TimerFd, NulloptDisarms) {
  auto timer = TimerFd::create();
  ASSERT_TRUE(timer.ok());
  ASSERT_TRUE(timer->arm(std::chrono::steady_clock::now() + 20ms).ok());
  ASSERT_TRUE(timer->arm(std::nullopt).ok());
  EXPECT_FALSE(readable_within(timer->fd(), 80));
}

TEST(TimerFd, AcknowledgeWithoutExpiryDoesNotBlock) {
  auto timer = TimerFd::create();
  ASSERT_TRUE(timer.ok());
  timer->acknowledge();
  SUCCEED();
}

}  // namespace
}  // namespace memvisor
