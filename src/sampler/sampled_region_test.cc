#include "sampler/sampled_region.h"

#include <gtest/gtest.h>

#include <cstring>

namespace memvisor_sampler {
namespace {

TEST(SampledRegion, NothingIsInsideBeforeReserving) {
  // Reservation happens once per process; before it the range is empty. (This test runs first
  // in its binary only by chance, so it checks the invariant both ways.)
  int on_stack = 0;
  EXPECT_FALSE(region_contains(&on_stack));
  EXPECT_FALSE(region_contains(nullptr));
}

TEST(SampledRegion, BlocksArePageAlignedAndRecognised) {
  ASSERT_TRUE(region_reserve());
  void* a = region_alloc(10);
  void* b = region_alloc(5000);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(a) % kPageSize, 0u);
  EXPECT_TRUE(region_contains(a));
  EXPECT_TRUE(region_contains(b));
  EXPECT_EQ(region_block(a)->size, 10u);
  EXPECT_EQ(region_usable_size(a), kPageSize);
  EXPECT_EQ(region_usable_size(b), 2 * kPageSize);
  std::memset(b, 0xab, 5000);
  region_free(a);
  region_free(b);
}

TEST(SampledRegion, FreedRunsAreReusedPerClass) {
  ASSERT_TRUE(region_reserve());
  void* a = region_alloc(100000);
  region_free(a);
  void* b = region_alloc(70000);  // same 32-page class
  EXPECT_EQ(a, b);
  region_free(b);
}

TEST(SampledRegion, RefusesWhatDoesNotFit) {
  ASSERT_TRUE(region_reserve());
  EXPECT_EQ(region_alloc(0), nullptr);
  EXPECT_EQ(region_alloc(size_t{1} << 40), nullptr);
}

TEST(SampledRegion, OrdinaryHeapIsOutside) {
  ASSERT_TRUE(region_reserve());
  int* heap = new int(3);
  EXPECT_FALSE(region_contains(heap));
  delete heap;
}

}  // namespace
}  // namespace memvisor_sampler
