// Restart delay policy: exponential growth from an initial delay up to a cap.
#pragma once

#include <chrono>

namespace memvisor {

struct BackoffPolicy {
  std::chrono::milliseconds initial{1000};
  double factor = 2.0;
  std::chrono::milliseconds max{60000};
};

// The wait before the next start after `consecutive_failures` failed runs in a row:
// initial for 0 or 1, then initial * factor^(n-1), never more than max.
std::chrono::milliseconds backoff_delay(const BackoffPolicy& policy, int consecutive_failures);

}  // namespace memvisor
