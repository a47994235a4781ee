// EventLoop with real pipes: dispatch, removal during a batch, timeouts and EINTR.
#include "os/event_loop.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/time.h>
#include <unistd.h>

#include <vector>

namespace memvisor {
namespace {

using std::chrono::milliseconds;

struct NonBlockingPipe {
  UniqueFd read;
  UniqueFd write;
  static NonBlockingPipe make() {
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC | O_NONBLOCK), 0);
    return NonBlockingPipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
  }
  void fill() { ASSERT_EQ(::write(write.get(), "x", 1), 1); }
};

TEST(EventLoop, RunsTheCallbackOfAReadyFd) {
  auto loop = EventLoop::create();
  ASSERT_TRUE(loop.ok());
  NonBlockingPipe p = NonBlockingPipe::make();
  std::vector<uint32_t> seen;
  ASSERT_TRUE(loop->add(p.read.get(), EPOLLIN, [&](uint32_t ev) { seen.push_back(ev); }).ok());

  auto idle = loop->run_once(milliseconds(0));
  ASSERT_TRUE(idle.ok());
  EXPECT_EQ(*idle, 0);
  p.fill();
  auto ran = loop->run_once(milliseconds(1000));
  ASSERT_TRUE(ran.ok());
  EXPECT_EQ(*ran, 1);
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_TRUE(seen[0] & EPOLLIN);
}

TEST(EventLoop, CallbackRemovingAnotherReadyFdSuppressesItsPendingEvent) {
  auto loop = EventLoop::create();
  ASSERT_TRUE(loop.ok());
  NonBlockingPipe a = NonBlockingPipe::make();
  NonBlockingPipe b = NonBlockingPipe::make();
  a.fill();
  b.fill();
  int calls = 0;
  // Whichever runs first removes the other, whose event is already in the same batch.
  ASSERT_TRUE(loop->add(a.read.get(), EPOLLIN,
                        [&](uint32_t) {
                          ++calls;
                          loop->remove(b.read.get());
                        })
                  .ok());
  ASSERT_TRUE(loop->add(b.read.get(), EPOLLIN,
                        [&](uint32_t) {
                          ++calls;
                          loop->remove(a.read.get());
                        })
                  .ok());
  auto ran = loop->run_once(milliseconds(1000));
  ASSERT_TRUE(ran.ok());
  EXPECT_EQ(*ran, 1);
  EXPECT_EQ(calls, 1);
}

TEST(EventLoop, FdRemovedAndReaddedInTheSameBatchWaitsForTheNextRound) {
  auto loop = EventLoop::create();
  ASSERT_TRUE(loop.ok());
  NonBlockingPipe a = NonBlockingPipe::make();
  NonBlockingPipe b = NonBlockingPipe::make();
  a.fill();
  b.fill();
  int old_calls = 0;
  int new_calls = 0;
  // The fd number is reused for a new registration; the pending event belongs to the old one.
  auto drain_and_replace = [&](int own, int other) {
    ++old_calls;
    char byte;
    ASSERT_EQ(::read(own, &byte, 1), 1);
    loop->remove(other);
    ASSERT_TRUE(loop->add(other, EPOLLIN,
                          [&new_calls, other](uint32_t) {
                            ++new_calls;
                            char drained;
                            ASSERT_EQ(::read(other, &drained, 1), 1);
                          })
                    .ok());
  };
  ASSERT_TRUE(loop->add(a.read.get(), EPOLLIN,
                        [&](uint32_t) { drain_and_replace(a.read.get(), b.read.get()); })
                  .ok());
  ASSERT_TRUE(loop->add(b.read.get(), EPOLLIN,
                        [&](uint32_t) { drain_and_replace(b.read.get(), a.read.get()); })
                  .ok());
  ASSERT_EQ(*loop->run_once(milliseconds(1000)), 1);
  EXPECT_EQ(old_calls, 1);
  EXPECT_EQ(new_calls, 0);
  ASSERT_EQ(*loop->run_once(milliseconds(1000)), 1);
  EXPECT_EQ(old_calls, 1);
  EXPECT_EQ(new_calls, 1);
}

TEST(EventLoop, CallbackMayRemoveItselfAndAddAnother) {
  auto loop = EventLoop::create();
  ASSERT_TRUE(loop.ok());
  NonBlockingPipe a = NonBlockingPipe::make();
  NonBlockingPipe b = NonBlockingPipe::make();
  a.fill();
  b.fill();
  std::string trail;
  // The capture is destroyed only after the callback returns; ASan would flag it otherwise.
  std::string label = "a";
  ASSERT_TRUE(
      loop->add(a.read.get(), EPOLLIN,
                [&, label](uint32_t) {
                  loop->remove(a.read.get());
                  trail += label;
                  ASSERT_TRUE(
                      loop->add(b.read.get(), EPOLLIN, [&](uint32_t) { trail += "b"; }).ok());
                })
          .ok());
  ASSERT_TRUE(loop->run_once(milliseconds(1000)).ok());
  ASSERT_TRUE(loop->run_once(milliseconds(1000)).ok());
  EXPECT_EQ(trail, "ab");
}

TEST(EventLoop, ModifySwitchesTheWatchedEvents) {
  auto loop = EventLoop::create();
  ASSERT_TRUE(loop.ok());
  NonBlockingPipe p = NonBlockingPipe::make();
  int writable = 0;
  ASSERT_TRUE(
      loop->add(p.write.get(), 0, [&](uint32_t ev) { writable += (ev & EPOLLOUT) ? 1 : 0; }).ok());
  ASSERT_EQ(*loop->run_once(milliseconds(0)), 0);
  ASSERT_TRUE(loop->modify(p.write.get(), EPOLLOUT).ok());
  ASSERT_EQ(*loop->run_once(milliseconds(1000)), 1);
  EXPECT_EQ(writable, 1);
}

TEST(EventLoop, AddAndModifyFailuresNameTheFd) {
  auto loop = EventLoop::create();
  ASSERT_TRUE(loop.ok());
  Status added = loop->add(-1, EPOLLIN, [](uint32_t) {});
  ASSERT_FALSE(added.ok());
  EXPECT_EQ(added.error().message, "epoll add fd -1");
  EXPECT_EQ(added.error().errnum, EBADF);
  NonBlockingPipe p = NonBlockingPipe::make();
  Status modified = loop->modify(p.read.get(), EPOLLIN);
  ASSERT_FALSE(modified.ok());
  EXPECT_EQ(modified.error().errnum, ENOENT);
}

void on_alarm(int) {}

TEST(EventLoop, InterruptedWaitReturnsZero) {
  auto loop = EventLoop::create();
  ASSERT_TRUE(loop.ok());
  struct sigaction action {
  }, previous{};
  action.sa_handler = on_alarm;  // no SA_RESTART: epoll_wait fails with EINTR
  ASSERT_EQ(::sigaction(SIGALRM, &action, &previous), 0);
  itimerval timer{};
  timer.it_value.tv_usec = 20'000;
  ASSERT_EQ(::setitimer(ITIMER_REAL, &timer, nullptr), 0);
  const auto start = std::chrono::steady_clock::now();
  auto ran = loop->run_once(milliseconds(5000));
  const auto waited = std::chrono::steady_clock::now() - start;
  ::sigaction(SIGALRM, &previous, nullptr);
  ASSERT_TRUE(ran.ok());
  EXPECT_EQ(*ran, 0);
  EXPECT_LT(waited, milliseconds(2000));
}

}  // namespace
}  // namespace memvisor
