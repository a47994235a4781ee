#include "core/incident/incident_retention.h"

#include <algorithm>

namespace memvisor {

std::vector<std::string> expired_bundles(std::vector<BundleSize> bundles, size_t keep,
                                         uint64_t max_bytes) {
  std::sort(bundles.begin(), bundles.end(),
            [](const BundleSize& a, const BundleSize& b) { return a.id < b.id; });
  uint64_t total = 0;
  for (const BundleSize& b : bundles) total += b.bytes;
  std::vector<std::string> expired;
  size_t remaining = bundles.size();
  for (const BundleSize& b : bundles) {
    if (remaining <= 1 || (remaining <= keep && total <= max_bytes)) break;
    expired.push_back(b.id);
    total -= b.bytes;
    --remaining;
  }
  return expired;
}

}  // namespace memvisor
