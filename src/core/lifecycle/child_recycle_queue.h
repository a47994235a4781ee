// Recycling the children of pre-fork servers (prefork = true), as a pure state machine: which
// queued child may be signalled now, and when each wait ends. One child per instance at a time,
// at most max_recycling per service; the next child of an instance is touched only once its
// master has forked the replacement of the last one. Time is an argument; the controller does
// the signalling and reads the master's children.
#pragma once

#include <chrono>
#include <list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace memvisor {

using SteadyTime = std::chrono::steady_clock::time_point;

struct ChildRecycle {
  enum class Phase {
    queued,     // waiting for a slot
    signalled,  // prefork_signal sent; SIGKILL at the deadline
    killed,     // SIGKILL sent; waiting for the exit
    replacing,  // exited; waiting for the master to be back at its child count
  };
  std::string service;
  int instance = 0;
  int pid = 0;
  unsigned long long start_ticks = 0;  // with pid, the child's identity
  std::string reason;
  Phase phase = Phase::queued;
  size_t children_before = 0;  // the master's children when the signal went out, this one included
  SteadyTime deadline{};       // signalled: SIGKILL; killed, replacing: give up waiting
};

class ChildRecycleQueue {
 public:
  // Queues a child; false when that child (pid and start time) is already queued or under way.
  bool add(ChildRecycle recycle);
  // The queued children of `service` that may be signalled now, oldest first: never a second one
  // of an instance, and at most `max_recycling` of the service under way.
  std::vector<ChildRecycle*> startable(std::string_view service, int max_recycling);
  // The signal went out when the master had `children` children (this one included).
  static void signalled(ChildRecycle& recycle, size_t children, SteadyTime now,
                        std::chrono::milliseconds timeout);
  static void killed(ChildRecycle& recycle, SteadyTime now, std::chrono::milliseconds grace);
  static void exited(ChildRecycle& recycle, SteadyTime now, std::chrono::milliseconds timeout);
  // Whether the master has replaced the child: its children now, without the recycled one (a
  // zombie until the master reaps it), are as many as before the signal.
  static bool replaced(const ChildRecycle& recycle, const std::vector<int>& children_now);

  int under_way(std::string_view service) const;
  // Queued or under way for this instance: its `children_recycling` in the fleet record.
  int under_way(std::string_view service, int instance) const;
  std::optional<SteadyTime> next_deadline() const;
  // Removes one recycle (done, failed or no longer possible).
  void erase(const ChildRecycle* recycle);
  // Removes every recycle of an instance: its master exited or is being replaced.
  void drop_instance(std::string_view service, int instance);
  std::list<ChildRecycle>& all() { return recycles_; }
  const std::list<ChildRecycle>& all() const { return recycles_; }

 private:
  std::list<ChildRecycle> recycles_;  // oldest first; stable addresses for the controller
};

}  // namespace memvisor
