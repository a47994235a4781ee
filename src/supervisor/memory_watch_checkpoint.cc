// The memory watch's side of the supervisor checkpoint: what each judged process's rules and
// series are, for the file, and taking them back in a new supervisor for the very same processes.
#include <algorithm>

#include "supervisor/memory_watch.h"

namespace memvisor {

std::vector<CheckpointEntry> MemoryWatch::checkpoint(size_t max_bytes) const {
  std::vector<CheckpointEntry> entries;
  size_t fixed = 0;
  for (const auto& [key, watched] : watched_) {
    if (!watched.rules || watched.pid == 0) continue;
    CheckpointEntry e;
    e.service = std::get<0>(key);
    e.instance = std::get<1>(key);
    e.generation = std::get<2>(key);
    e.child = std::get<3>(key);
    e.pid = watched.pid;
    e.start_ticks = watched.start_ticks;
    e.started_at_s = watched.started_at_s;
    e.rules_state = watched.rules->save_state();
    fixed += e.rules_state.size() + e.service.size() + 64;
    entries.push_back(std::move(e));
  }
  // The series share what the states leave, evenly: the newest samples of each are kept, as the
  // retained series itself keeps them.
  const size_t left = max_bytes > fixed ? max_bytes - fixed : 0;
  const size_t per_entry =
      entries.empty() ? 0 : std::min(kMaxSamples, left / entries.size() / kCheckpointSampleBytes);
  size_t next = 0;
  for (const auto& [key, watched] : watched_) {
    if (!watched.rules || watched.pid == 0) continue;
    const size_t keep = std::min(per_entry, watched.samples.size());
    entries[next++].samples.assign(watched.samples.end() - static_cast<std::ptrdiff_t>(keep),
                                   watched.samples.end());
  }
  return entries;
}

void MemoryWatch::restore(std::vector<CheckpointEntry> entries) {
  restoring_.clear();
  restore_outcome_ = RestoreOutcome{};
  restore_reported_ = false;
  for (CheckpointEntry& e : entries) {
    const UnitKey key{e.service, e.instance, e.generation, e.child};
    restoring_.insert_or_assign(key, std::move(e));
  }
  restore_until_round_ = round_ + kRestoreRounds;
}

void MemoryWatch::adopt_checkpoint(const UnitKey& key, Watched& watched) {
  auto found = restoring_.find(key);
  if (found == restoring_.end()) return;
  CheckpointEntry entry = std::move(found->second);
  restoring_.erase(found);
  // Another process under the same name (restarted meanwhile) or under the same pid (reused):
  // its history is not this one's.
  if (entry.pid != watched.pid || entry.start_ticks != watched.start_ticks) {
    ++restore_outcome_->dropped;
    return;
  }
  if (!watched.rules->restore_state(entry.rules_state)) {
    ++restore_outcome_->unreadable;
    return;
  }
  // The series' times count from the start the dead supervisor used; the controller gave both
  // supervisors the same one, but a child's is re-derived, so the saved origin is kept.
  watched.started_at_s = entry.started_at_s;
  watched.samples.assign(entry.samples.begin(), entry.samples.end());
  ++restore_outcome_->restored;
}

std::optional<MemoryWatch::RestoreOutcome> MemoryWatch::restore_outcome() {
  if (restore_reported_ || !restoring_.empty() || !restore_outcome_) return std::nullopt;
  restore_reported_ = true;
  return restore_outcome_;
}

}  // namespace memvisor
