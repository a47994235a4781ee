#include "sampler/sampled_region.h"

#include <gtest/gtest.h>

#include <sys/mman.h>

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

// Whether the second page of a block is in memory (the first holds the free list's link).
bool resident(void* block) {
  unsigned char in_core = 0;
  return mincore(static_cast<char*>(block) + kPageSize, kPageSize, &in_core) == 0 &&
         (in_core & 1) != 0;
}

TEST(SampledRegion, LargeRunsAreKeptForReuseOnlyWhileAsked) {
  ASSERT_TRUE(region_reserve());
  constexpr size_t kTwoMiB = size_t{2} << 20;
  region_keep_freed(true);
  void* a = region_alloc(kTwoMiB);
  ASSERT_NE(a, nullptr);
  std::memset(a, 1, kTwoMiB);
  region_free(a);
  EXPECT_TRUE(resident(a));  // kept mapped
  void* b = region_alloc(kTwoMiB);
  EXPECT_EQ(b, a);
  region_free(b);
  region_keep_freed(false);  // the window is over: given back
  EXPECT_FALSE(resident(a));
  void* c = region_alloc(kTwoMiB);
  ASSERT_NE(c, nullptr);
  std::memset(c, 1, kTwoMiB);
  region_free(c);
  EXPECT_FALSE(resident(c));  // not asked: given back at once
}

TEST(SampledRegion, LargeRunsMoveTheirPagesInsteadOfCopying) {
  ASSERT_TRUE(region_reserve());
  constexpr size_t kMiB = size_t{1} << 20;
  auto* from = static_cast<unsigned char*>(region_alloc(2 * kMiB));
  auto* to = static_cast<unsigned char*>(region_alloc(3 * kMiB));
  ASSERT_NE(from, nullptr);
  ASSERT_NE(to, nullptr);
  for (size_t i = 0; i < 2 * kMiB; i += 4096) from[i] = static_cast<unsigned char>(i / 4096);
  ASSERT_TRUE(region_move_pages(from, to));
  for (size_t i = 0; i < 2 * kMiB; i += 4096)
    ASSERT_EQ(to[i], static_cast<unsigned char>(i / 4096)) << i;
  // The source is mapped again, empty, and can be freed and reused as usual.
  EXPECT_FALSE(resident(from));
  EXPECT_EQ(from[4096], 0);
  region_free(from);
  region_free(to);
  // Small runs are copied by the caller.
  void* small = region_alloc(64 * 1024);
  void* larger = region_alloc(256 * 1024);
  EXPECT_FALSE(region_move_pages(small, larger));
  region_free(small);
  region_free(larger);
}

TEST(SampledRegion, OrdinaryHeapIsOutside) {
  ASSERT_TRUE(region_reserve());
  int* heap = new int(3);
  EXPECT_FALSE(region_contains(heap));
  delete heap;
}

}  // namespace
}  // namespace memvisor_sampler
