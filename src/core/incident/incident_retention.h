// Which incident bundles to delete: the oldest first, until at most `keep` remain and together
// they take at most `max_bytes`. The newest bundle is always kept, whatever its size. Pure.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace memvisor {

struct BundleSize {
  std::string id;  // ids sort by time
  uint64_t bytes = 0;
};

std::vector<std::string> expired_bundles(std::vector<BundleSize> bundles, size_t keep,
                                         uint64_t max_bytes);

}  // namespace memvisor
