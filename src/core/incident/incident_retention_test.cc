#include "core/incident/incident_retention.h"

#include <gtest/gtest.h>

namespace memvisor {
namespace {

using Ids = std::vector<std::string>;

TEST(IncidentRetention, KeepsTheLastN) {
  const std::vector<BundleSize> bundles{{"20261122-100003-a.1-leak", 10},
                                        {"20261122-100001-a.1-leak", 10},
                                        {"20261122-100002-a.1-dump", 10}};
  EXPECT_EQ(expired_bundles(bundles, 2, 1000), (Ids{"20261122-100001-a.1-leak"}));
  EXPECT_EQ(expired_bundles(bundles, 3, 1000), Ids{});
  EXPECT_EQ(expired_bundles(bundles, 0, 1000),
            (Ids{"20261122-100001-a.1-leak", "20261122-100002-a.1-dump"}));  // newest stays
}

TEST(IncidentRetention, KeepsWithinTheSize) {
  const std::vector<BundleSize> bundles{{"1", 100}, {"2", 300}, {"3", 50}};
  EXPECT_EQ(expired_bundles(bundles, 50, 400), (Ids{"1"}));
  EXPECT_EQ(expired_bundles(bundles, 50, 349), (Ids{"1", "2"}));
  EXPECT_EQ(expired_bundles(bundles, 50, 10), (Ids{"1", "2"}));  // the newest even if too big
  EXPECT_EQ(expired_bundles({}, 0, 0), Ids{});
}

}  // namespace
}  // namespace memvisor
