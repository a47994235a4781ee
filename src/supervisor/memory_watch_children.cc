// The children of pre-fork servers (prefork = true): found every sampling round under each
// instance's process, each measured and judged as its own unit ("web.1/12345"), the master's own
// figures left to the instance.
#include <algorithm>

#include "supervisor/memory_watch.h"

namespace memvisor {

void MemoryWatch::sample_children(const ServiceConfig& service, const FleetProcess& process,
                                  ProcMemoryReader& reader, bool sample_now, double wall_s,
                                  std::vector<RuleAction>& actions) {
  const UnitKey first{service.name, process.instance, process.generation, 1};
  const auto same_instance = [&](const UnitKey& key) {
    return std::get<0>(key) == service.name && std::get<1>(key) == process.instance &&
           std::get<2>(key) == process.generation;
  };
  if (!sample_now) {
    // Between this service's rounds the children known stay known.
    for (auto it = watched_.lower_bound(first); it != watched_.end() && same_instance(it->first);
         ++it) {
      it->second.round = round_;
    }
    return;
  }
  auto children = reader.read_children(process.pid, process.start_ticks);
  if (!children) return;  // the master is gone: its children go with its record
  for (const ProcMemoryReader::Child& child : *children) {
    const UnitKey key{service.name, process.instance, process.generation, child.pid};
    // A new process under a known pid (the old one gone between two rounds) starts over.
    if (auto known = watched_.find(key);
        known != watched_.end() && known->second.start_ticks != child.start_ticks) {
      watched_.erase(known);
    }
    Watched& watched = watched_[key];
    if (!watched.seen) {
      watched.seen = true;
      watched.pid = child.pid;
      watched.start_ticks = child.start_ticks;
      watched.started_at_s = started_at(child.start_ticks, wall_s);
      watched.rules.emplace(service, std::uniform_real_distribution<double>(0, 1)(random_));
      adopt_checkpoint(key, watched);
    }
    auto sample = service.memory.tree ? reader.read_tree(child.pid, child.start_ticks)
                                      : reader.read_process(child.pid, child.start_ticks);
    // Gone since the listing, or exited and not yet reaped by its master (no address space): no
    // longer a unit, dropped at the end of this round.
    if (!sample || sample->rss == 0) continue;
    watched.round = round_;
    MemoryValues values{sample->rss, sample->pss, sample->uss, sample->swap, sample->anon, 0};
    if (measures_cgroup(service, process.cgroup)) values.cgroup = cgroup_memory(child.pid, "");
    const double t = std::max(0.0, wall_s - watched.started_at_s);
    watched.samples.push_back({t, values});
    if (watched.samples.size() > kMaxSamples) watched.samples.pop_front();
    // A recycle's replacement master is measured, not judged yet; so are its children.
    if (!process.primary) continue;
    std::vector<RuleDecision> decisions = watched.rules->on_sample(t, values);
    // No request counts for a child: the worker library speaks for the instance.
    auto progress = watched.rules->on_progress(t, 0);
    decisions.insert(decisions.end(), progress.begin(), progress.end());
    for (auto& decision : decisions) {
      RuleAction action{service.name, process.instance, process.generation, child.pid,
                        std::move(decision)};
      action.child = child.pid;
      action.child_start_ticks = child.start_ticks;
      actions.push_back(std::move(action));
    }
  }
}

double MemoryWatch::started_at(uint64_t start_ticks, double fallback_s) {
  if (!clock_) clock_ = read_process_clock(proc_root_);
  if (!*clock_) return fallback_s;
  return (*clock_)->started_at(start_ticks);
}

std::vector<MemoryWatch::Child> MemoryWatch::children(const Key& key) const {
  std::vector<Child> found;
  for (auto it = watched_.lower_bound(unit_of(key, 1));
       it != watched_.end() && std::get<0>(it->first) == std::get<0>(key) &&
       std::get<1>(it->first) == std::get<1>(key) && std::get<2>(it->first) == std::get<2>(key);
       ++it) {
    if (it->second.samples.empty()) continue;  // never measured: a zombie, or just gone
    found.push_back({std::get<3>(it->first), it->second.start_ticks, it->second.started_at_s});
  }
  return found;
}

}  // namespace memvisor
