#include "sampler/sampling_math.h"

#include <gtest/gtest.h>

namespace memvisor_sampler {
namespace {

TEST(SamplingMath, GapsAverageToTheInterval) {
  uint64_t state = 42;
  double sum = 0;
  constexpr int kDraws = 200000;
  for (int i = 0; i < kDraws; ++i) sum += static_cast<double>(next_sample_gap(state, 524288));
  EXPECT_NEAR(sum / kDraws, 524288.0, 524288.0 * 0.01);
}

TEST(SamplingMath, GapIsAtLeastOneByte) {
  uint64_t state = 7;
  for (int i = 0; i < 10000; ++i) EXPECT_GE(next_sample_gap(state, 1), 1);
}

TEST(SamplingMath, WeightOfSmallBlockIsAboutTheInterval) {
  // P(sampled) ~ size / interval, so the weight is ~ interval (slightly more than the size).
  EXPECT_NEAR(sample_weight(16, 524288), 524288.0, 16.0);
}

TEST(SamplingMath, WeightOfHugeBlockIsItsSize) {
  EXPECT_DOUBLE_EQ(sample_weight(uint64_t{1} << 40, 524288),
                   static_cast<double>(uint64_t{1} << 40));
}

TEST(SamplingMath, EstimateIsUnbiasedOverManyAllocations) {
  // Simulate the per-thread countdown over a mixed workload and compare the estimate of the
  // bytes allocated with the truth.
  uint64_t state = 99, sizes = 12345;
  const uint64_t interval = 65536;
  int64_t countdown = next_sample_gap(state, interval);
  double estimate = 0, truth = 0;
  for (int i = 0; i < 2000000; ++i) {
    const uint64_t size = 1 + next_random(sizes) % 8192;
    truth += static_cast<double>(size);
    countdown -= static_cast<int64_t>(size);
    if (countdown <= 0) {
      estimate += sample_weight(size, interval);
      countdown = next_sample_gap(state, interval);
    }
  }
  EXPECT_NEAR(estimate / truth, 1.0, 0.02);
}

}  // namespace
}  // namespace memvisor_sampler
