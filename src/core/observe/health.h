// /health: healthy when every service has the ready instances its configuration asks for.
#pragma once

#include <string>

#include "core/observe/metrics_snapshot.h"

namespace memvisor {

struct HealthVerdict {
  bool healthy = false;
  std::string body;  // "ok: 2 services, 5/5 instances ready" or the reasons, one per line
};

HealthVerdict judge_health(const MetricsSnapshot& snapshot);

}  // namespace memvisor
