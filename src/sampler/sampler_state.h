// State shared by the hooks and the window logic inside the preload library.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "sampler/sampler_abi.h"

namespace memvisor_sampler {

// The allocator underneath (glibc, or whatever is next in the lookup order).
struct RealAllocator {
  void* (*malloc)(size_t);
  void (*free)(void*);
  void* (*calloc)(size_t, size_t);
  void* (*realloc)(void*, size_t);
  int (*posix_memalign)(void**, size_t, size_t);
  void* (*aligned_alloc)(size_t, size_t);
  void* (*memalign)(size_t, size_t);
  void* (*valloc)(size_t);
  void* (*pvalloc)(size_t);
  size_t (*malloc_usable_size)(void*);
};
extern RealAllocator g_real;

// Every malloc reads *g_gate: 0 means call straight through. It points at the control page's
// gate once initialised, at a local word before that (1: initialise first) or without control.
extern volatile uint32_t* g_gate;

// True while this thread is inside a hook's slow path: nested allocations pass through.
// constinit: no dynamic initialisation, so every access is a plain %fs load (no TLS wrapper call).
extern thread_local constinit bool t_in_hook __attribute__((tls_model("initial-exec")));

// Each thread's place in the Poisson sequence of sampled bytes.
struct ThreadSampler {
  int64_t countdown;  // bytes left before the next sample
  uint64_t rng;
  uint32_t window;       // the window generation the countdown and the records were drawn for
  uint32_t tid;          // cached: gettid is a system call, and a dear one under some hypervisors
  uint64_t next_record;  // this thread's claimed batch of records: [next_record, end_record)
  uint64_t end_record;
};
extern thread_local constinit ThreadSampler t_sampler __attribute__((tls_model("initial-exec")));

// The generation of the window being recorded, or kNoWindow. A thread whose countdown was drawn
// for it needs no slow path until the countdown crosses zero.
inline constexpr uint32_t kNoWindow = UINT32_MAX;
extern volatile uint32_t g_open_window;

// Resolves the real allocator and sets up control; safe to call repeatedly.
void ensure_initialised();
// Called when *g_gate is set: opens a requested window, or clears a stale gate. True while a
// window is recording.
bool window_recording();
// The hook counted `size` down and found the countdown crossed (or drawn for another window):
// true when this allocation is a sample. Draws the next countdown.
bool sample_due(size_t size);

// A sample's call stack, taken by the hook itself: the unwinder then walks two frames of ours
// (the hook and its slow path) rather than five or six. On an allocation storm that was about
// 40% of the unwinding.
struct SampleStack {
  uint32_t depth;
  uint64_t frames[kMaxFrames];
};
extern Unwinder g_unwinder;

// A block of the sampled range for an allocation of `size` bytes, recorded as a sample with
// `stack`; nullptr when the range cannot serve it (the caller allocates normally).
void* take_sample(size_t size, size_t alignment, bool zero, const SampleStack& stack);
// realloc within a block's page run: the old allocation ends (with its sample, if any) and the
// new one of `size` bytes takes the same block, as a sample with `stack` when not null.
void resample_in_place(void* block, size_t size, const SampleStack* stack);
// A sampled block is being freed: mark its record and return the pages.
void free_sampled(void* p);
// At exit: the control page file goes away with the process.
void remove_control_page();
// Bootstrap allocation while dlsym runs (served from the sampled range, never sampled).
void* bootstrap_alloc(size_t size);

}  // namespace memvisor_sampler
