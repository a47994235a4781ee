#include "supervisor/memory_watch.h"

#include <algorithm>
#include <cmath>

#include "os/log_sink.h"

namespace memvisor {
namespace {

bool uses_cgroup(const ServiceConfig& service) {
  const MemoryRules& r = service.memory;
  auto is = [&](const std::optional<MemoryMetric>& m) {
    return m.value_or(r.metric) == MemoryMetric::cgroup;
  };
  return r.metric == MemoryMetric::cgroup || (r.warn && is(r.warn->metric)) ||
         (r.limit && is(r.limit->metric)) || (r.critical && is(r.critical->metric)) ||
         (r.total && is(r.total->metric)) || (r.leak && is(r.leak->metric));
}

}  // namespace

double MemoryWatch::next_due(const FleetState& fleet) const {
  double earliest = -1;
  for (const ServiceConfig& service : fleet.config().services) {
    auto due = next_due_.find(service.name);
    const double t = due == next_due_.end() ? 0 : due->second;
    if (earliest < 0 || t < earliest) earliest = t;
  }
  return earliest;
}

void MemoryWatch::reconfigure(const Config& config) {
  for (auto it = watched_.begin(); it != watched_.end();) {
    const std::string& name = std::get<0>(it->first);
    const auto service = std::find_if(config.services.begin(), config.services.end(),
                                      [&](const ServiceConfig& s) { return s.name == name; });
    if (service == config.services.end()) {
      it = watched_.erase(it);
      continue;
    }
    if (it->second.rules) it->second.rules->reconfigure(*service);
    ++it;
  }
  next_due_.clear();
}

std::vector<RuleAction> MemoryWatch::sample_due(double now_s, WallTime wall,
                                                const FleetState& fleet) {
  std::vector<RuleAction> actions;
  const double wall_s = to_unix_seconds(wall);
  ++round_;
  for (const ServiceConfig& service : fleet.config().services) {
    double& due = next_due_[service.name];
    const bool sample_now = now_s >= due;
    if (sample_now) due = now_s + static_cast<double>(service.memory.interval.count()) / 1000;
    ProcMemoryReader& reader = reader_for(service);

    for (const FleetProcess& process : fleet.processes(service.name)) {
      if (!process.measured()) continue;
      Watched& watched = watch(service, process, wall_s);
      if (sample_now) sample_process(service, process, watched, reader, now_s, wall_s, actions);
      if (service.prefork) sample_children(service, process, reader, sample_now, wall_s, actions);
    }
    if (sample_now) reader.close_unused();
  }
  if (!restoring_.empty() && round_ >= restore_until_round_) {
    restore_outcome_->dropped += restoring_.size();
    restoring_.clear();
  }
  // Processes that are gone take their series with them (incidents copy what they need first).
  std::erase_if(watched_, [this](const auto& entry) { return entry.second.round != round_; });
  std::erase_if(requests_,
                [this](const auto& entry) { return !watched_.contains(unit_of(entry.first)); });
  std::erase_if(gauges_,
                [this](const auto& entry) { return !watched_.contains(unit_of(entry.first)); });
  return actions;
}

MemoryWatch::Watched& MemoryWatch::watch(const ServiceConfig& service, const FleetProcess& process,
                                         double wall_s) {
  Watched& watched = watched_[unit_of(Key{service.name, process.instance, process.generation})];
  watched.round = round_;
  if (!watched.seen) {
    watched.seen = true;
    watched.pid = process.pid;
    watched.start_ticks = process.start_ticks;
    watched.started_at_s = process.started_at.value_or(wall_s);
    watched.rules.emplace(service, std::uniform_real_distribution<double>(0, 1)(random_));
    adopt_checkpoint(unit_of(Key{service.name, process.instance, process.generation}), watched);
  }
  return watched;
}

void MemoryWatch::sample_process(const ServiceConfig& service, const FleetProcess& process,
                                 Watched& watched, ProcMemoryReader& reader, double now_s,
                                 double wall_s, std::vector<RuleAction>& actions) {
  const int pid = process.pid;
  const Key key{service.name, process.instance, process.generation};
  // With prefork the master is measured alone; `tree` then applies to each child.
  auto sample = service.memory.tree && !service.prefork
                    ? reader.read_tree(pid, process.start_ticks)
                    : reader.read_process(pid, process.start_ticks);
  if (sample) {
    if (reader.last_read_fell_back() && !fallback_logged_) {
      fallback_logged_ = true;
      log_message(LogLevel::warning, "reading memory from status/statm, not smaps_rollup (" +
                                         reader.fallback_reason() +
                                         "): PSS and USS are approximations");
    }
    MemoryValues values{sample->rss, sample->pss, sample->uss, sample->swap, sample->anon, 0};
    if (measures_cgroup(service, process.cgroup)) {
      values.cgroup = cgroup_memory(pid, process.cgroup);
    }
    const double t = wall_s - watched.started_at_s;
    watched.samples.push_back({t, values});
    if (watched.samples.size() > kMaxSamples) watched.samples.pop_front();
    const double interval_s = static_cast<double>(service.memory.interval.count()) / 1000;
    const auto store = gauges_.find(key);
    if (store != gauges_.end()) store->second.sample(t, now_s, interval_s, kMaxSamples);
    // Rules judge the instance that serves; a replacement is measured, not judged yet.
    if (process.primary) {
      // The gauges its rules read, where fresh; the others are waited for.
      GaugeValues fresh;
      watched.waiting.clear();
      for (const std::string& name : watched.rules->gauges_read()) {
        std::optional<double> value;
        if (store != gauges_.end()) value = store->second.fresh(name, now_s, interval_s);
        if (value) {
          fresh.emplace(name, *value);
        } else if (store != gauges_.end() && store->second.has(name)) {
          watched.waiting.push_back("gauge " + name + " is stale: not judged");
        } else {
          watched.waiting.push_back("waiting for gauge " + name);
        }
      }
      std::vector<RuleDecision> decisions = watched.rules->on_sample(
          t, values, watched.rules->gauges_read().empty() ? nullptr : &fresh);
      // A pre-fork master's age is no reason to recycle it: its children are aged on their
      // own, and the master going would take every one of them with it.
      if (!service.prefork) {
        auto progress = watched.rules->on_progress(t, requests(key));
        decisions.insert(decisions.end(), progress.begin(), progress.end());
      }
      for (auto& decision : decisions) {
        actions.push_back(
            {service.name, std::get<1>(key), std::get<2>(key), pid, std::move(decision)});
      }
    }
  }
}

std::vector<RuleAction> MemoryWatch::sample_one(const Key& key, double now_s, WallTime wall,
                                                const FleetState& fleet) {
  std::vector<RuleAction> actions;
  const ServiceConfig* service = fleet.service(std::get<0>(key));
  if (service == nullptr) return actions;
  const double wall_s = to_unix_seconds(wall);
  for (const FleetProcess& process : fleet.processes(service->name)) {
    if (process.instance != std::get<1>(key) || process.generation != std::get<2>(key)) continue;
    if (!process.measured()) break;
    Watched& watched = watch(*service, process, wall_s);
    sample_process(*service, process, watched, reader_for(*service), now_s, wall_s, actions);
    break;
  }
  return actions;
}

void MemoryWatch::on_gauge(const Key& key, std::string_view name, double value, double now_s) {
  if (!valid_gauge_name(name) || !std::isfinite(value)) return;
  // Both callers attribute a gauge to a live process of the fleet; one that is gone by the next
  // sample round takes its gauges with it (sample_due).
  gauges_[key].set(name, value, now_s);
}

bool MemoryWatch::gauge_full(const Key& key, std::string_view name) const {
  auto found = gauges_.find(key);
  return found != gauges_.end() && found->second.full_for(name);
}

std::vector<std::string> MemoryWatch::waiting(const Key& key) const {
  auto found = watched_.find(unit_of(key));
  return found == watched_.end() ? std::vector<std::string>{} : found->second.waiting;
}

const GaugeStore* MemoryWatch::gauges(const Key& key) const {
  auto found = gauges_.find(key);
  return found == gauges_.end() ? nullptr : &found->second;
}

std::vector<RuleAction> MemoryWatch::set_requests(const Key& key, int64_t total, WallTime wall,
                                                  const FleetState& fleet) {
  requests_[key] = total;
  std::vector<RuleAction> actions;
  auto found = watched_.find(unit_of(key));
  if (found == watched_.end() || !found->second.rules)
    return actions;  // judged on its first sample
  for (const FleetProcess& process : fleet.processes(std::get<0>(key))) {
    if (process.instance != std::get<1>(key) || process.generation != std::get<2>(key)) continue;
    // As on a sample: the primary is judged, a replacement only counted.
    if (!process.primary) break;
    // A pre-fork master is judged on its requests only, never its age (see sample_due).
    const ServiceConfig* service = fleet.service(std::get<0>(key));
    const bool prefork = service != nullptr && service->prefork;
    const double uptime = to_unix_seconds(wall) - found->second.started_at_s;
    for (auto& decision : found->second.rules->on_progress(uptime, total, !prefork)) {
      actions.push_back(
          {std::get<0>(key), std::get<1>(key), std::get<2>(key), process.pid, std::move(decision)});
    }
    break;
  }
  return actions;
}

int64_t MemoryWatch::requests(const Key& key) const {
  auto found = requests_.find(key);
  return found == requests_.end() ? 0 : found->second;
}

ProcMemoryReader& MemoryWatch::reader_for(const ServiceConfig& service) {
  auto found = readers_.find(service.name);
  if (found == readers_.end()) {
    found = readers_.emplace(service.name, ProcMemoryReader(proc_root_)).first;
    found->second.keep_files_open(true);
    const int64_t interval_ms = std::max<int64_t>(1, service.memory.interval.count());
    found->second.reuse_rollup_for(static_cast<int>(std::max<int64_t>(1, 10000 / interval_ms)));
  }
  return found->second;
}

bool MemoryWatch::measures_cgroup(const ServiceConfig& service, std::string_view cgroup_path) {
  return uses_cgroup(service) || !cgroup_path.empty();
}

uint64_t MemoryWatch::cgroup_memory(pid_t pid, std::string_view cgroup_path) {
  if (!cgroups_) {
    cgroups_ = CgroupMemoryReader::detect();
    if (!*cgroups_) {
      log_message(LogLevel::warning, "metric cgroup: no memory cgroup to read (" +
                                         cgroups_->error().describe() + "); it reads as 0");
    }
  }
  if (!*cgroups_) return 0;
  if (!cgroup_path.empty()) {
    auto sample = (*cgroups_)->read(std::string(cgroup_path));
    return sample ? sample->current : 0;
  }
  auto path = (*cgroups_)->cgroup_of(pid);
  if (!path) return 0;
  auto sample = (*cgroups_)->read(*path);
  return sample ? sample->current : 0;
}

const std::deque<TimedSample>* MemoryWatch::series(const UnitKey& key) const {
  auto found = watched_.find(key);
  return found == watched_.end() ? nullptr : &found->second.samples;
}

const std::vector<TimedSample>* MemoryWatch::checkpointed_series(const UnitKey& key) const {
  auto found = restoring_.find(key);
  return found == restoring_.end() ? nullptr : &found->second.samples;
}

double MemoryWatch::series_origin(const UnitKey& key) const {
  auto found = watched_.find(key);
  return found == watched_.end() ? 0 : found->second.started_at_s;
}

const ProcessRules* MemoryWatch::rules(const UnitKey& key) const {
  auto found = watched_.find(key);
  return found == watched_.end() || !found->second.rules ? nullptr : &*found->second.rules;
}

void MemoryWatch::allow_again(const UnitKey& key, WallTime wall) {
  auto found = watched_.find(key);
  if (found == watched_.end() || !found->second.rules) return;
  // The clock of the process's samples (see sample_process).
  found->second.rules->allow_again(to_unix_seconds(wall) - found->second.started_at_s);
}

void MemoryWatch::recycle_requested(const UnitKey& key) {
  auto found = watched_.find(key);
  if (found != watched_.end() && found->second.rules) found->second.rules->recycle_requested();
}

}  // namespace memvisor
