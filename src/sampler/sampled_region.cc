// The sampled-block range: one reservation, a bump pointer, and a free list per page class.
// Sampled allocations are rare (one per interval of bytes on average), so one spinlock is enough.
#include "sampler/sampled_region.h"

#include <sched.h>
#include <string.h>
#include <sys/mman.h>

namespace memvisor_sampler {

uintptr_t g_region_begin = 0;
uintptr_t g_region_end = 0;

namespace {

constexpr uint32_t kClasses = 21;          // up to 2^20 pages (4 GiB) per block
constexpr uint32_t kReleaseFromClass = 8;  // runs of 1 MiB and more go back to the kernel

RegionBlock* g_blocks = nullptr;  // one entry per page; only a run's first page is used
uintptr_t g_bump = 0;
void* g_free_runs[kClasses] = {};
volatile int g_lock = 0;

size_t pages_of(uint32_t page_class) {
  return size_t{1} << page_class;
}

uint32_t class_for(size_t size) {
  const size_t pages = (size + kPageSize - 1) / kPageSize;
  uint32_t c = 0;
  while (pages_of(c) < pages) ++c;
  return c;
}

size_t page_index(const void* p) {
  return (reinterpret_cast<uintptr_t>(p) - g_region_begin) / kPageSize;
}

}  // namespace

void region_lock() {
  while (__atomic_exchange_n(&g_lock, 1, __ATOMIC_ACQUIRE) != 0) sched_yield();
}
void region_unlock() {
  __atomic_store_n(&g_lock, 0, __ATOMIC_RELEASE);
}

bool region_reserve() {
  if (g_region_end != 0) return true;
  // Address space only (MAP_NORESERVE); pages cost memory once a sampled block touches them.
  for (size_t bytes = size_t{8} << 30; bytes >= (size_t{64} << 20); bytes /= 4) {
    void* range = mmap(nullptr, bytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (range == MAP_FAILED) continue;
    const size_t table_bytes = bytes / kPageSize * sizeof(RegionBlock);
    void* table = mmap(nullptr, table_bytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (table == MAP_FAILED) {
      munmap(range, bytes);
      continue;
    }
    g_blocks = static_cast<RegionBlock*>(table);
    g_bump = reinterpret_cast<uintptr_t>(range);
    g_region_begin = reinterpret_cast<uintptr_t>(range);
    __atomic_store_n(&g_region_end, g_region_begin + bytes, __ATOMIC_RELEASE);
    return true;
  }
  return false;
}

void* region_alloc(size_t size) {
  if (g_region_end == 0 || size == 0) return nullptr;
  const uint32_t c = class_for(size);
  if (c >= kClasses) return nullptr;
  region_lock();
  void* block = g_free_runs[c];
  if (block != nullptr) {
    memcpy(&g_free_runs[c], block, sizeof(void*));
  } else if (g_region_end - g_bump >= pages_of(c) * kPageSize) {
    block = reinterpret_cast<void*>(g_bump);
    g_bump += pages_of(c) * kPageSize;
  }
  if (block != nullptr) {
    RegionBlock& meta = g_blocks[page_index(block)];
    meta = RegionBlock{size, 0, 0, c, 1};
  }
  region_unlock();
  return block;
}

void region_free(void* p) {
  RegionBlock& meta = g_blocks[page_index(p)];
  const uint32_t c = meta.page_class;
  // Release the pages outside the lock; the run is not yet reachable by anyone else.
  if (c >= kReleaseFromClass) madvise(p, pages_of(c) * kPageSize, MADV_DONTNEED);
  region_lock();
  meta.live = 0;
  memcpy(p, &g_free_runs[c], sizeof(void*));
  g_free_runs[c] = p;
  region_unlock();
}

RegionBlock* region_block(const void* p) {
  return &g_blocks[page_index(p)];
}

size_t region_usable_size(const void* p) {
  return pages_of(g_blocks[page_index(p)].page_class) * kPageSize;
}

}  // namespace memvisor_sampler
