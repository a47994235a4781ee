// The pre-fork recycle queue: one child per instance, max_recycling per service, a child's wait
// for its exit and for the master's replacement.
#include "core/lifecycle/child_recycle_queue.h"

#include <gtest/gtest.h>

namespace memvisor {
namespace {

using namespace std::chrono_literals;

ChildRecycle child(std::string service, int instance, int pid) {
  ChildRecycle r;
  r.service = std::move(service);
  r.instance = instance;
  r.pid = pid;
  r.start_ticks = 1000 + static_cast<unsigned long long>(pid);
  r.reason = "limit";
  return r;
}

std::vector<int> pids(const std::vector<ChildRecycle*>& recycles) {
  std::vector<int> out;
  for (const ChildRecycle* r : recycles) out.push_back(r->pid);
  return out;
}

TEST(ChildRecycleQueue, AChildIsQueuedOnce) {
  ChildRecycleQueue queue;
  EXPECT_TRUE(queue.add(child("web", 1, 11)));
  EXPECT_FALSE(queue.add(child("web", 1, 11)));
  ChildRecycle reused = child("web", 1, 11);
  reused.start_ticks = 5;  // the same pid, another process
  EXPECT_TRUE(queue.add(reused));
  EXPECT_EQ(queue.under_way("web", 1), 2);
  EXPECT_EQ(queue.under_way("web"), 0);  // queued is not under way
}

TEST(ChildRecycleQueue, OneChildOfAnInstanceAtATime) {
  ChildRecycleQueue queue;
  queue.add(child("web", 1, 11));
  queue.add(child("web", 1, 12));
  queue.add(child("web", 2, 21));
  // max_recycling 2: one child of each instance, never two of web.1.
  auto ready = queue.startable("web", 2);
  EXPECT_EQ(pids(ready), (std::vector<int>{11, 21}));
  const SteadyTime t0{};
  for (ChildRecycle* r : ready) ChildRecycleQueue::signalled(*r, 4, t0, 30s);
  EXPECT_EQ(queue.under_way("web"), 2);
  EXPECT_TRUE(queue.startable("web", 2).empty());
  EXPECT_TRUE(queue.startable("web", 5).empty()) << "web.1 still has 11 under way";
  queue.erase(ready[0]);
  EXPECT_EQ(pids(queue.startable("web", 2)), (std::vector<int>{12}));
}

TEST(ChildRecycleQueue, MaxRecyclingCountsTheService) {
  ChildRecycleQueue queue;
  queue.add(child("web", 1, 11));
  queue.add(child("web", 2, 21));
  queue.add(child("jobs", 1, 31));
  EXPECT_EQ(pids(queue.startable("web", 1)), (std::vector<int>{11}));
  ChildRecycleQueue::signalled(*queue.startable("web", 1)[0], 4, SteadyTime{}, 30s);
  EXPECT_TRUE(queue.startable("web", 1).empty());
  EXPECT_EQ(pids(queue.startable("jobs", 1)), (std::vector<int>{31}));  // another service
}

TEST(ChildRecycleQueue, DeadlinesFollowThePhases) {
  ChildRecycleQueue queue;
  queue.add(child("web", 1, 11));
  EXPECT_FALSE(queue.next_deadline()) << "a queued child waits for no clock";
  ChildRecycle& r = *queue.startable("web", 1)[0];
  const SteadyTime t0{};
  ChildRecycleQueue::signalled(r, 4, t0, 30s);
  EXPECT_EQ(r.phase, ChildRecycle::Phase::signalled);
  EXPECT_EQ(r.children_before, 4u);
  EXPECT_EQ(queue.next_deadline(), t0 + 30s);
  ChildRecycleQueue::killed(r, t0 + 30s, 5s);
  EXPECT_EQ(r.phase, ChildRecycle::Phase::killed);
  EXPECT_EQ(queue.next_deadline(), t0 + 35s);
  ChildRecycleQueue::exited(r, t0 + 31s, 30s);
  EXPECT_EQ(r.phase, ChildRecycle::Phase::replacing);
  EXPECT_EQ(queue.next_deadline(), t0 + 61s);
}

TEST(ChildRecycleQueue, ReplacedWhenTheMasterIsBackToItsCount) {
  ChildRecycle r = child("web", 1, 11);
  r.children_before = 4;  // 11, 12, 13, 14
  EXPECT_FALSE(ChildRecycleQueue::replaced(r, {12, 13, 14}));
  EXPECT_FALSE(ChildRecycleQueue::replaced(r, {11, 12, 13, 14})) << "11 is a zombie, not back";
  EXPECT_TRUE(ChildRecycleQueue::replaced(r, {11, 12, 13, 14, 15}));
  EXPECT_TRUE(ChildRecycleQueue::replaced(r, {12, 13, 14, 15}));
  EXPECT_TRUE(ChildRecycleQueue::replaced(r, {12, 13, 14, 15, 16}));  // grew: also back
}

TEST(ChildRecycleQueue, DroppingAnInstanceForgetsItsChildren) {
  ChildRecycleQueue queue;
  queue.add(child("web", 1, 11));
  queue.add(child("web", 1, 12));
  queue.add(child("web", 2, 21));
  queue.drop_instance("web", 1);
  EXPECT_EQ(queue.all().size(), 1u);
  EXPECT_EQ(queue.all().front().pid, 21);
}

}  // namespace
}  // namespace memvisor
