#include "core/lifecycle/backoff.h"

#include <algorithm>
#include <cmath>

namespace memvisor {

std::chrono::milliseconds backoff_delay(const BackoffPolicy& policy, int consecutive_failures) {
  const int exponent = std::max(0, consecutive_failures - 1);
  // Computed in double so a long failure streak saturates at the cap instead of overflowing.
  const double delay = static_cast<double>(policy.initial.count()) *
                       std::pow(policy.factor, static_cast<double>(exponent));
  const double cap = static_cast<double>(policy.max.count());
  return std::chrono::milliseconds(static_cast<long>(std::min(delay, cap)));
}

}  // namespace memvisor
