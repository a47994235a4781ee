#include "core/observe/health.h"

#include <fmt/format.h>

namespace memvisor {

HealthVerdict judge_health(const MetricsSnapshot& snapshot) {
  HealthVerdict verdict;
  int ready = 0;
  int desired = 0;
  std::string reasons;
  for (const ServiceMetrics& service : snapshot.services) {
    ready += service.ready;
    desired += service.desired;
    for (const std::string& address : service.lost_listens) {
      reasons += fmt::format("{}: not listening on {} (a worker shut it down; restart memvisor)\n",
                             service.name, address);
    }
    if (service.ready >= service.desired) continue;
    reasons += fmt::format("{}: {}/{} ready", service.name, service.ready, service.desired);
    if (!service.not_ready.empty()) {
      reasons += fmt::format(" ({} not ready: {})", service.not_ready.size(),
                             fmt::join(service.not_ready, ", "));
    }
    reasons += "\n";
  }
  verdict.healthy = reasons.empty();
  const size_t n = snapshot.services.size();
  verdict.body = verdict.healthy ? fmt::format("ok: {} service{}, {}/{} instances ready\n", n,
                                               n == 1 ? "" : "s", ready, desired)
                                 : reasons;
  return verdict;
}

}  // namespace memvisor
