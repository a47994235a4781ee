// The interposed allocation functions. Idle cost: one load of the gate word, a predictable
// branch, and the call through; `free` pays one range check over the sampled region. Armed, an
// allocation that does not cross the thread's countdown costs a subtraction and a compare more.
#include <errno.h>
#include <string.h>

#include "sampler/sampled_region.h"
#include "sampler/sampler_state.h"
#include "sampler/stack_capture.h"

using namespace memvisor_sampler;

#define MVS_EXPORT extern "C" __attribute__((visibility("default")))
#define MVS_UNLIKELY(x) __builtin_expect(static_cast<bool>(x), 0)

namespace {

// The stack of the allocation being sampled, taken here in the hook's own slow path.
inline SampleStack this_stack() {
  SampleStack stack;
  stack.depth = capture_stack(g_unwinder, stack.frames, kMaxFrames);
  return stack;
}

// Whether an allocation of `size` that got past the thread's countdown is a sample: after
// initialisation, outside our own hooks, in a recording window.
bool is_sample(size_t size) {
  ensure_initialised();
  return !t_in_hook && window_recording() && sample_due(size);
}

// The slow path shared by every allocating hook: initialisation, recursion, and sampling.
// Returns nullptr when the caller should allocate normally.
__attribute__((noinline)) void* slow_path(size_t size, size_t alignment, bool zero) {
  if (!is_sample(size)) return nullptr;
  t_in_hook = true;  // the unwinder may allocate: those pass through
  const SampleStack stack = this_stack();
  void* block = take_sample(size, alignment, zero, stack);
  t_in_hook = false;
  return block;
}

// Armed (or starting up): counts the bytes down; true when the allocation must take the slow
// path: it crosses zero, or is the thread's first in a window. An allocation made inside a hook
// counts too; if it crosses zero, the thread's next allocation is the sample.
inline bool past_countdown(size_t size) {
  ThreadSampler& t = t_sampler;
  t.countdown -= static_cast<int64_t>(size);
  return __builtin_expect(t.countdown <= 0 || t.window != g_open_window, 0);
}

inline void* sampled_or_null(size_t size, size_t alignment, bool zero) {
  if (!past_countdown(size)) return nullptr;
  return slow_path(size, alignment, zero);
}

// A realloc that stays in its page run: the old allocation ends and the new one of `size`
// bytes is sampled or not like any other.
__attribute__((noinline)) void realloc_in_place(void* p, size_t size) {
  if (*g_gate == 0 || !past_countdown(size) || !is_sample(size)) {
    resample_in_place(p, size, nullptr);
    return;
  }
  t_in_hook = true;
  const SampleStack stack = this_stack();
  resample_in_place(p, size, &stack);
  t_in_hook = false;
}

bool initialising() {
  return g_real.malloc == nullptr;
}

size_t old_size(void* p) {
  if (region_contains(p)) return region_block(p)->size;
  return g_real.malloc_usable_size(p);
}

}  // namespace

MVS_EXPORT void* malloc(size_t size) {
  if (MVS_UNLIKELY(*g_gate != 0)) {
    if (void* p = sampled_or_null(size, 0, false)) return p;
    if (MVS_UNLIKELY(initialising())) return bootstrap_alloc(size);
  }
  return g_real.malloc(size);
}

MVS_EXPORT void free(void* p) {
  if (MVS_UNLIKELY(region_contains(p))) return free_sampled(p);
  g_real.free(p);  // before initialisation: boot_free
}

MVS_EXPORT void* calloc(size_t count, size_t size) {
  if (MVS_UNLIKELY(*g_gate != 0)) {
    size_t bytes = 0;
    if (__builtin_mul_overflow(count, size, &bytes)) {
      errno = ENOMEM;
      return nullptr;
    }
    if (void* p = sampled_or_null(bytes, 0, true)) return p;
    if (MVS_UNLIKELY(initialising())) return bootstrap_alloc(bytes);  // fresh pages: zeroed
  }
  return g_real.calloc(count, size);
}

MVS_EXPORT void* realloc(void* p, size_t size) {
  if (MVS_UNLIKELY(region_contains(p) || *g_gate != 0)) {
    if (p == nullptr) return malloc(size);
    const bool in_range = region_contains(p);
    if (in_range && size == 0) {
      free_sampled(p);
      return nullptr;
    }
    if (in_range && size <= region_usable_size(p)) {
      // Within its page run: no copy. A buffer that keeps growing (a string being built) stays
      // where it is; as a new allocation it is sampled or not like any other, and the old one's
      // sample ends here.
      realloc_in_place(p, size);
      return p;
    }
    void* fresh = size == 0 ? nullptr : sampled_or_null(size, 0, false);
    // A block dlsym took while we start up lives in the range too: until the real allocator is
    // known, a larger one comes from the same place.
    if (fresh == nullptr && initialising()) fresh = bootstrap_alloc(size);
    if (fresh == nullptr && in_range) {
      fresh = g_real.malloc(size);
      if (fresh == nullptr) return nullptr;  // the old block stays valid, as realloc promises
    }
    if (fresh != nullptr) {
      const size_t before = old_size(p);
      if (!(in_range && region_contains(fresh) && region_move_pages(p, fresh)))
        memcpy(fresh, p, before < size ? before : size);
      free(p);
      return fresh;
    }
  }
  return g_real.realloc(p, size);
}

MVS_EXPORT void* reallocarray(void* p, size_t count, size_t size) {
  size_t bytes = 0;
  if (__builtin_mul_overflow(count, size, &bytes)) {
    errno = ENOMEM;
    return nullptr;
  }
  return realloc(p, bytes);
}

MVS_EXPORT int posix_memalign(void** out, size_t alignment, size_t size) {
  if (MVS_UNLIKELY(*g_gate != 0)) {
    // Validate as glibc does before deciding anything.
    if (alignment % sizeof(void*) != 0 || (alignment & (alignment - 1)) != 0 || alignment == 0)
      return EINVAL;
    void* p = sampled_or_null(size, alignment, false);
    if (p == nullptr && initialising() && alignment <= kPageSize) p = bootstrap_alloc(size);
    if (p != nullptr) {
      *out = p;
      return 0;
    }
  }
  return g_real.posix_memalign(out, alignment, size);
}

MVS_EXPORT void* aligned_alloc(size_t alignment, size_t size) {
  if (MVS_UNLIKELY(*g_gate != 0)) {
    if ((alignment & (alignment - 1)) == 0 && alignment != 0) {
      if (void* p = sampled_or_null(size, alignment, false)) return p;
      if (initialising() && alignment <= kPageSize) return bootstrap_alloc(size);
    }
  }
  return g_real.aligned_alloc(alignment, size);
}

MVS_EXPORT void* memalign(size_t alignment, size_t size) {
  if (MVS_UNLIKELY(*g_gate != 0)) {
    if ((alignment & (alignment - 1)) == 0 && alignment != 0) {
      if (void* p = sampled_or_null(size, alignment, false)) return p;
      if (initialising() && alignment <= kPageSize) return bootstrap_alloc(size);
    }
  }
  return g_real.memalign(alignment, size);
}

MVS_EXPORT void* valloc(size_t size) {
  if (MVS_UNLIKELY(*g_gate != 0)) {
    if (void* p = sampled_or_null(size, kPageSize, false)) return p;
    if (initialising()) return bootstrap_alloc(size);
  }
  return g_real.valloc(size);
}

MVS_EXPORT void* pvalloc(size_t size) {
  if (MVS_UNLIKELY(*g_gate != 0)) {
    const size_t rounded = (size + kPageSize - 1) & ~(kPageSize - 1);
    if (void* p = sampled_or_null(rounded == 0 ? kPageSize : rounded, kPageSize, false)) return p;
    if (initialising()) return bootstrap_alloc(rounded == 0 ? kPageSize : rounded);
  }
  return g_real.pvalloc(size);
}

MVS_EXPORT size_t malloc_usable_size(void* p) {
  if (MVS_UNLIKELY(region_contains(p))) return region_usable_size(p);
  if (p == nullptr) return 0;
  return g_real.malloc_usable_size(p);
}
