#include "core/lifecycle/backoff.h"

#include <gtest/gtest.h>

namespace memvisor {
namespace {

using std::chrono::milliseconds;

TEST(BackoffDelay, GrowsByTheFactorAndStopsAtTheCap) {
  const BackoffPolicy policy{milliseconds(100), 2.0, milliseconds(1000)};
  EXPECT_EQ(backoff_delay(policy, 0), milliseconds(100));
  EXPECT_EQ(backoff_delay(policy, 1), milliseconds(100));
  EXPECT_EQ(backoff_delay(policy, 2), milliseconds(200));
  EXPECT_EQ(backoff_delay(policy, 3), milliseconds(400));
  EXPECT_EQ(backoff_delay(policy, 4), milliseconds(800));
  EXPECT_EQ(backoff_delay(policy, 5), milliseconds(1000));
  EXPECT_EQ(backoff_delay(policy, 10000), milliseconds(1000));
}

TEST(BackoffDelay, FactorOneIsAConstantDelay) {
  const BackoffPolicy policy{milliseconds(250), 1.0, milliseconds(60000)};
  for (int n = 0; n < 50; ++n) EXPECT_EQ(backoff_delay(policy, n), milliseconds(250));
}

}  // namespace
}  // namespace memvisor
