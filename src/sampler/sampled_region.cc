// The sampled-block range: one reservation, a bump pointer, and free lists per page class.
// Sampled allocations are rare (one per interval of bytes on average), so one spinlock is enough.
#include "sampler/sampled_region.h"

#include <string.h>
#include <sys/mman.h>

#include "sampler/spin_lock.h"

namespace memvisor_sampler {

RegionBounds g_region = {};

namespace {

constexpr uint32_t kClasses = 21;          // up to 2^20 pages (4 GiB) per block
constexpr uint32_t kReleaseFromClass = 8;  // runs of 1 MiB and more go back to the kernel...
// ...except that while a window records, freed ones are kept mapped up to this many bytes and
// reused first. Returning each at once made every reuse fault its pages in again: a python3
// workload building large strings took 16,000 more page faults (+8% CPU time) for it. glibc
// itself keeps freed memory of this order (its dynamic mmap threshold goes up to 32 MiB).
constexpr uint64_t kKeptFreeBytes = uint64_t{32} << 20;

RegionBlock* g_blocks = nullptr;  // one entry per page; only a run's first page is used
uintptr_t g_bump = 0;
void* g_free_runs[kClasses] = {};  // runs whose pages may be mapped (small) or were given back
void* g_kept_runs[kClasses] = {};  // large runs freed and kept mapped
uint64_t g_kept_bytes = 0;
bool g_keeping = false;  // a window is recording
volatile int g_lock = 0;

size_t pages_of(uint32_t page_class) {
  return size_t{1} << page_class;
}

size_t bytes_of(uint32_t page_class) {
  return pages_of(page_class) * kPageSize;
}

uint32_t class_for(size_t size) {
  const size_t pages = (size + kPageSize - 1) / kPageSize;
  uint32_t c = 0;
  while (pages_of(c) < pages) ++c;
  return c;
}

size_t page_index(const void* p) {
  return (reinterpret_cast<uintptr_t>(p) - g_region.begin) / kPageSize;
}

// A free list links runs through their entries in the block table.
void* pop(void*& head) {
  void* run = head;
  if (run != nullptr) head = g_blocks[page_index(run)].next_free;
  return run;
}
void push(void*& head, void* run) {
  g_blocks[page_index(run)].next_free = head;
  head = run;
}

// A fresh mapping over [run, run + bytes), made exactly as the reservation was.
bool map_fresh(void* run, size_t bytes) {
  return mmap(run, bytes, PROT_READ | PROT_WRITE,
              MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0) != MAP_FAILED;
}

// Gives a run's pages back to the kernel with a fresh mapping: unlike MADV_DONTNEED this also
// lets the kernel merge the range back into its neighbours after region_move_pages split it
// off, so moves never leave more mappings behind than there are live moved blocks.
void release(void* run, size_t bytes) {
  if (!map_fresh(run, bytes)) madvise(run, bytes, MADV_DONTNEED);
}

}  // namespace

void region_lock() {
  spin_lock(&g_lock);
}
void region_unlock() {
  spin_unlock(&g_lock);
}

bool region_reserve() {
  if (g_region.end != 0) return true;
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
    g_region.begin = reinterpret_cast<uintptr_t>(range);
    __atomic_store_n(&g_region.end, g_region.begin + bytes, __ATOMIC_RELEASE);
    return true;
  }
  return false;
}

void* region_alloc(size_t size) {
  if (g_region.end == 0 || size == 0) return nullptr;
  const uint32_t c = class_for(size);
  if (c >= kClasses) return nullptr;
  region_lock();
  void* block = pop(g_kept_runs[c]);
  if (block != nullptr) {
    g_kept_bytes -= bytes_of(c);
  } else {
    block = pop(g_free_runs[c]);
  }
  if (block == nullptr && g_region.end - g_bump >= bytes_of(c)) {
    block = reinterpret_cast<void*>(g_bump);
    g_bump += bytes_of(c);
  }
  if (block != nullptr) g_blocks[page_index(block)] = RegionBlock{size, 0, 0, c, 1, nullptr};
  region_unlock();
  return block;
}

void region_free(void* p) {
  RegionBlock& meta = g_blocks[page_index(p)];
  const uint32_t c = meta.page_class;
  const size_t bytes = bytes_of(c);
  region_lock();
  meta.live = 0;
  if (c < kReleaseFromClass) {  // small runs stay mapped: one lock, no system call
    push(g_free_runs[c], p);
    region_unlock();
    return;
  }
  const bool keep = g_keeping && g_kept_bytes + bytes <= kKeptFreeBytes;
  if (keep) {
    g_kept_bytes += bytes;
    push(g_kept_runs[c], p);
  }
  region_unlock();
  if (keep) return;
  // Release the pages outside the lock; the run is not yet reachable by anyone else.
  release(p, bytes);
  region_lock();
  push(g_free_runs[c], p);
  region_unlock();
}

void region_keep_freed(bool keep) {
  region_lock();
  g_keeping = keep;
  for (uint32_t c = kReleaseFromClass; c < kClasses; ++c) {
    while (void* run = pop(g_kept_runs[c])) {
      release(run, bytes_of(c));
      push(g_free_runs[c], run);
    }
  }
  g_kept_bytes = 0;
  region_unlock();
}

RegionBlock* region_block(const void* p) {
  return &g_blocks[page_index(p)];
}

size_t region_usable_size(const void* p) {
  return bytes_of(g_blocks[page_index(p)].page_class);
}

bool region_move_pages(void* from, void* to) {
  const uint32_t from_class = g_blocks[page_index(from)].page_class;
  if (from_class < kReleaseFromClass || g_blocks[page_index(to)].page_class <= from_class)
    return false;
  const size_t bytes = bytes_of(from_class);
  if (mremap(from, bytes, bytes, MREMAP_MAYMOVE | MREMAP_FIXED, to) == MAP_FAILED) return false;
  // The source range is a hole now; map it again so the reservation stays whole.
  if (!map_fresh(from, bytes)) {
    mremap(to, bytes, bytes, MREMAP_MAYMOVE | MREMAP_FIXED, from);  // contents back where expected
    return false;
  }
  return true;
}

}  // namespace memvisor_sampler
