// Arming instance cgroups' usage thresholds on the supervisor's loop (kernel_watch.h).
#include "supervisor/kernel_watch.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstdlib>
#include <cstring>
#include <set>
#include <utility>

#include "os/cgroup_threshold.h"
#include "os/log_sink.h"

namespace memvisor {

KernelWatch::KernelWatch(EventLoop& loop, Wakeup wakeup, std::string cgroup_root)
    : loop_(loop), wakeup_(std::move(wakeup)), cgroup_root_(std::move(cgroup_root)) {
  const char* off = std::getenv("MEMVISOR_KERNEL_THRESHOLDS");
  enabled_ = off == nullptr || std::strcmp(off, "0") != 0;
}

KernelWatch::~KernelWatch() {
  for (auto& [key, armed] : armed_) disarm(armed);
}

void KernelWatch::disarm(Armed& armed) {
  for (UniqueFd& fd : armed.fds) loop_.remove(fd.get());
  armed.fds.clear();
}

std::vector<MemoryWatch::Key> KernelWatch::update(const FleetState& fleet, bool reconfigured) {
  std::vector<MemoryWatch::Key> newly_armed;
  if (!enabled_) return newly_armed;
  if (reconfigured) {
    for (auto& [key, armed] : armed_) disarm(armed);
    armed_.clear();
    told_.clear();
  }
  std::set<MemoryWatch::Key> present;
  std::vector<MemoryWatch::Key> already_above;
  for (const ServiceConfig& service : fleet.config().services) {
    if (!service.cgroup) continue;
    const KernelArming arming = kernel_thresholds(service);
    if (!arming.not_armed.empty()) {
      const std::string said = fmt::format("{}", fmt::join(arming.not_armed, "; "));
      if (std::exchange(told_[service.name], said) != said) {
        log_message(LogLevel::notice,
                    fmt::format("{}: sampled on its interval only, not as kernel notifications: {}",
                                service.name, said));
      }
    }
    if (arming.thresholds.empty()) continue;
    for (const FleetProcess& process : fleet.processes(service.name)) {
      if (!process.measured() || process.cgroup.empty()) continue;
      const MemoryWatch::Key key{service.name, process.instance, process.generation};
      present.insert(key);
      auto found = armed_.find(key);
      if (found != armed_.end() && found->second.cgroup == process.cgroup) continue;
      if (found != armed_.end()) {
        disarm(found->second);
        armed_.erase(found);
      }
      if (arm(service, process, arming)) already_above.push_back(key);
      if (armed_.contains(key)) newly_armed.push_back(key);
    }
  }
  for (auto it = armed_.begin(); it != armed_.end();) {
    if (present.contains(it->first)) {
      ++it;
      continue;
    }
    disarm(it->second);
    it = armed_.erase(it);
  }
  // The kernel notifies crossings only: a process armed when already past a threshold (it grew
  // before the supervisor heard of it) is measured now, as if notified.
  for (const MemoryWatch::Key& key : already_above) wakeup_(key);
  return newly_armed;
}

bool KernelWatch::arm(const ServiceConfig& service, const FleetProcess& process,
                      const KernelArming& arming) {
  if (!cgroups_) cgroups_ = CgroupMemoryReader::detect(cgroup_root_);
  if (!*cgroups_) return false;  // the controller made no cgroups then either
  const std::string dir = (*cgroups_)->hierarchy() + process.cgroup;
  const MemoryWatch::Key key{service.name, process.instance, process.generation};
  Armed armed{process.cgroup, {}, 0, std::nullopt};
  std::vector<Result<UniqueFd>> opened;
  uint32_t events = EPOLLIN;
  if ((*cgroups_)->version() == CgroupVersion::kV1) {
    for (const KernelThreshold& threshold : arming.thresholds) {
      opened.push_back(arm_v1_usage_threshold(dir, threshold.bytes));
    }
  } else if (effective_memory_max(service)) {
    // v2 has no usage threshold of its own: memory.high, which the controller set to the lowest
    // armed threshold, counts `high` events in memory.events as usage passes it.
    opened.push_back(open_v2_memory_events(dir));
    events = EPOLLPRI;
  } else {
    if (!told_.contains(service.name + "/v2")) {
      told_[service.name + "/v2"] = "told";
      log_message(LogLevel::notice,
                  fmt::format("{}: cgroup v2 notifies usage only past memory.high, which memvisor "
                              "sets only with memory_max: limit and critical are sampled on the "
                              "interval",
                              service.name));
    }
    return false;
  }
  for (auto& fd : opened) {
    if (!fd) {
      log_message(
          LogLevel::warning,
          fmt::format("{}.{}: cannot arm a kernel threshold on {}: {}; sampled on the "
                      "interval only",
                      service.name, process.instance, process.cgroup, fd.error().describe()));
      continue;
    }
    if (watch(key, *fd, events == EPOLLIN)) armed.fds.push_back(std::move(*fd));
  }
  armed.base = armed.fds.size();
  const bool any = !armed.fds.empty();
  armed_[key] = std::move(armed);
  if (!any) return false;
  const auto usage = (*cgroups_)->read(process.cgroup);
  return usage && usage->current >= arming.thresholds.front().bytes;
}

bool KernelWatch::watch(const MemoryWatch::Key& key, UniqueFd& fd, bool v1) {
  const int raw = fd.get();
  Status added = loop_.add(raw, v1 ? EPOLLIN : EPOLLPRI, [this, key, raw, v1](uint32_t) {
    if (v1) {
      consume_eventfd(raw);
    } else {
      consume_v2_events(raw);
    }
    wakeup_(key);
  });
  if (!added) {
    log_message(LogLevel::warning,
                fmt::format("{}.{}: cannot watch a kernel threshold: {}", std::get<0>(key),
                            std::get<1>(key), added.error().describe()));
  }
  return static_cast<bool>(added);
}

void KernelWatch::arm_usage(const MemoryWatch::Key& key, uint64_t bytes) {
  // A few are enough: each is armed above the usage of its time, so the older ones have been
  // passed already and would fire again only after usage fell back below them.
  constexpr size_t kMaxExtra = 4;
  const auto found = armed_.find(key);
  if (found == armed_.end() || !cgroups_ || !*cgroups_ ||
      (*cgroups_)->version() != CgroupVersion::kV1) {
    return;
  }
  Armed& armed = found->second;
  // Each sample recomputes the level; a level that moved by less than the kernel's own
  // granularity (it checks every 128 page events) is not worth another registration.
  constexpr uint64_t kSameLevel = 128 * 4096;
  if (armed.newest_extra &&
      (*armed.newest_extra > bytes ? *armed.newest_extra - bytes : bytes - *armed.newest_extra) <
          kSameLevel) {
    return;
  }
  auto fd = arm_v1_usage_threshold((*cgroups_)->hierarchy() + armed.cgroup, bytes);
  if (!fd || !watch(key, *fd, /*v1=*/true)) return;  // the interval samples it still
  if (armed.fds.size() - armed.base >= kMaxExtra) {
    const auto oldest = armed.fds.begin() + static_cast<std::ptrdiff_t>(armed.base);
    loop_.remove(oldest->get());
    armed.fds.erase(oldest);  // closing the eventfd unregisters its threshold
  }
  armed.fds.push_back(std::move(*fd));
  armed.newest_extra = bytes;
}

std::vector<MemoryWatch::Key> KernelWatch::armed_keys() const {
  std::vector<MemoryWatch::Key> keys;
  keys.reserve(armed_.size());
  for (const auto& [key, armed] : armed_) keys.push_back(key);
  return keys;
}

}  // namespace memvisor
