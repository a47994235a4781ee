// ProcMemoryReader::read_children: a pre-fork master's workers, found each sampling round and
// pinned by their held /proc directories, so a worker is read by the same handle until it exits.
#include <cerrno>

#include "os/memory_reader.h"

namespace memvisor {

Result<std::vector<ProcMemoryReader::Child>> ProcMemoryReader::read_children(
    pid_t pid, uint64_t expected_start_ticks) {
  std::vector<pid_t> listed;
  {
    auto held = open_.find(pid);
    OpenedProcess opened_now;
    const OpenedProcess* parent = nullptr;
    if (held != open_.end()) {
      parent = &held->second.process;
    } else {
      auto opened = OpenedProcess::open(proc_root_, pid);
      if (!opened) return opened.error();
      opened_now = std::move(*opened);
      parent = &opened_now;
    }
    if (expected_start_ticks != 0 && parent->stat().start_time_ticks != expected_start_ticks) {
      return Error{"children of pid " + std::to_string(pid) + ": now another process", ESRCH};
    }
    auto children = parent->children();
    listed = children ? std::move(*children) : child_pids(pid, proc_root_);
  }
  std::vector<Child> found;
  found.reserve(listed.size());
  for (const pid_t child : listed) {
    auto held = open_.find(child);
    // A held process whose pid now lists under this parent is either that process still, or one
    // gone (its directory reads nothing) whose pid was given to a new child: open it afresh.
    if (held != open_.end() &&
        (held->second.process.stat().ppid != pid || !held->second.process.alive())) {
      open_.erase(held);
      held = open_.end();
    }
    if (held == open_.end()) {
      auto opened = OpenedProcess::open(proc_root_, child);
      // Exited since the listing, or its pid already reused by a process of another parent.
      if (!opened || opened->stat().ppid != pid || opened->stat().state == 'Z') continue;
      if (!keep_open_ || open_.size() >= max_open_) {
        found.push_back({child, opened->stat().start_time_ticks});
        continue;
      }
      held = open_.emplace(child, Held{std::move(*opened), true, std::nullopt, Statm{}, 0}).first;
    }
    held->second.used = true;
    found.push_back({child, held->second.process.stat().start_time_ticks});
  }
  return found;
}

}  // namespace memvisor
