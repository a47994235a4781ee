#include "core/lifecycle/child_recycle_queue.h"

#include <algorithm>
#include <set>

namespace memvisor {

bool ChildRecycleQueue::add(ChildRecycle recycle) {
  const bool known = std::any_of(recycles_.begin(), recycles_.end(), [&](const ChildRecycle& r) {
    return r.pid == recycle.pid && r.start_ticks == recycle.start_ticks;
  });
  if (known) return false;
  recycle.phase = ChildRecycle::Phase::queued;
  recycles_.push_back(std::move(recycle));
  return true;
}

std::vector<ChildRecycle*> ChildRecycleQueue::startable(std::string_view service,
                                                        int max_recycling) {
  std::vector<ChildRecycle*> ready;
  std::set<int> busy;  // instances with a child under way, or already chosen now
  int slots = max_recycling - under_way(service);
  for (const ChildRecycle& r : recycles_) {
    if (r.service == service && r.phase != ChildRecycle::Phase::queued) busy.insert(r.instance);
  }
  for (ChildRecycle& r : recycles_) {
    if (slots <= 0) break;
    if (r.service != service || r.phase != ChildRecycle::Phase::queued) continue;
    if (!busy.insert(r.instance).second) continue;
    ready.push_back(&r);
    --slots;
  }
  return ready;
}

void ChildRecycleQueue::signalled(ChildRecycle& recycle, size_t children, SteadyTime now,
                                  std::chrono::milliseconds timeout) {
  recycle.phase = ChildRecycle::Phase::signalled;
  recycle.children_before = children;
  recycle.deadline = now + timeout;
}

void ChildRecycleQueue::killed(ChildRecycle& recycle, SteadyTime now,
                               std::chrono::milliseconds grace) {
  recycle.phase = ChildRecycle::Phase::killed;
  recycle.deadline = now + grace;
}

void ChildRecycleQueue::exited(ChildRecycle& recycle, SteadyTime now,
                               std::chrono::milliseconds timeout) {
  recycle.phase = ChildRecycle::Phase::replacing;
  recycle.deadline = now + timeout;
}

bool ChildRecycleQueue::replaced(const ChildRecycle& recycle,
                                 const std::vector<int>& children_now) {
  const auto others = std::count_if(children_now.begin(), children_now.end(),
                                    [&](int pid) { return pid != recycle.pid; });
  // The count before included the recycled child itself: one more than the others had then.
  return static_cast<size_t>(others) >= recycle.children_before;
}

int ChildRecycleQueue::under_way(std::string_view service) const {
  return static_cast<int>(std::count_if(recycles_.begin(), recycles_.end(), [&](const auto& r) {
    return r.service == service && r.phase != ChildRecycle::Phase::queued;
  }));
}

int ChildRecycleQueue::under_way(std::string_view service, int instance) const {
  return static_cast<int>(std::count_if(recycles_.begin(), recycles_.end(), [&](const auto& r) {
    return r.service == service && r.instance == instance;
  }));
}

std::optional<SteadyTime> ChildRecycleQueue::next_deadline() const {
  std::optional<SteadyTime> earliest;
  for (const ChildRecycle& r : recycles_) {
    if (r.phase == ChildRecycle::Phase::queued) continue;
    if (!earliest || r.deadline < *earliest) earliest = r.deadline;
  }
  return earliest;
}

void ChildRecycleQueue::erase(const ChildRecycle* recycle) {
  recycles_.remove_if([&](const ChildRecycle& r) { return &r == recycle; });
}

void ChildRecycleQueue::drop_instance(std::string_view service, int instance) {
  recycles_.remove_if(
      [&](const ChildRecycle& r) { return r.service == service && r.instance == instance; });
}

}  // namespace memvisor
