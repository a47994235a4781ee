// A dedicated address range for sampled blocks, so that `free` recognises a sampled block with
// one range check and every other free pays nothing more. Blocks are whole pages (power-of-two
// page runs, reused per class), so each payload is page aligned.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace memvisor_sampler {

inline constexpr size_t kPageSize = 4096;

// Two to a cache line. A free run's link lives here rather than in the run itself: the run's
// pages are cold by the time it is freed or reused (and given back when large), so a link
// inside them cost a cache miss, and under shadow paging a first touch of the page, each time.
struct alignas(32) RegionBlock {
  uint64_t size;        // requested bytes
  uint32_t record;      // index in the sample log of `window`
  uint32_t window;      // window generation the record belongs to
  uint32_t page_class;  // run of 2^page_class pages
  uint32_t live;
  void* next_free;  // while the run is on a free list
};

// Reserves the range (address space only). Idempotent; false if mmap refused.
bool region_reserve();

// Range bounds, read on every free in every thread; [0, 0) until reserved. They fill a cache
// line of their own: sharing one with the range's lock made every free miss after each sampled
// allocation on another core (about 220 ns a miss where we measure).
struct alignas(64) RegionBounds {
  uintptr_t begin;
  uintptr_t end;
};
extern RegionBounds g_region;

inline bool region_contains(const void* p) {
  return reinterpret_cast<uintptr_t>(p) - g_region.begin < g_region.end - g_region.begin;
}

// A page-aligned block of at least `size` bytes, or nullptr (too big, range full). The block's
// metadata is filled by the caller through region_block().
void* region_alloc(size_t size);
void region_free(void* p);
// Whether large freed runs are kept mapped for reuse (while a window records). Turning it off
// gives back those kept so far.
void region_keep_freed(bool keep);
RegionBlock* region_block(const void* p);  // p must be region_contains()
size_t region_usable_size(const void* p);

// realloc of a large block of the range into a larger one: moves the pages of `from`'s run to
// the start of `to`'s run instead of copying them, as glibc's realloc does with mremap for its
// own large blocks. Only runs that region_free gives back to the kernel (1 MiB and more) are
// moved: their split-off mapping is made whole again when they are given back. False when the runs
// are smaller or mremap refused; then the caller copies. `from` is left mapped (fresh pages).
bool region_move_pages(void* from, void* to);

// fork: take the lock in the parent before, release it on both sides after.
void region_lock();
void region_unlock();

}  // namespace memvisor_sampler
