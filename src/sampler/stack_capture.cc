// Stack capture for samples. Called with the recursion guard held, so a malloc inside the
// unwinder (libunwind's first use, pthread_getattr_np) is passed through unsampled.
#include "sampler/stack_capture.h"

#include <pthread.h>

#define UNW_LOCAL_ONLY
#include <libunwind.h>

// Bounds of this library's code, from the linker: frames inside it are the hooks themselves.
extern "C" {
extern const char __ehdr_start __attribute__((visibility("hidden")));
extern const char __etext __attribute__((visibility("hidden")));
}

namespace memvisor_sampler {
namespace {

thread_local uintptr_t t_stack_high __attribute__((tls_model("initial-exec"))) = 0;

bool is_own_frame(uint64_t address) {
  return address >= reinterpret_cast<uintptr_t>(&__ehdr_start) &&
         address < reinterpret_cast<uintptr_t>(&__etext);
}

// The top of this thread's stack, so the frame-pointer walk never reads past it.
uintptr_t stack_high() {
  if (t_stack_high == 0) {
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
      void* low = nullptr;
      size_t size = 0;
      if (pthread_attr_getstack(&attr, &low, &size) == 0)
        t_stack_high = reinterpret_cast<uintptr_t>(low) + size;
      pthread_attr_destroy(&attr);
    }
  }
  return t_stack_high;
}

__attribute__((noinline)) uint32_t walk_frame_pointers(uint64_t* frames, uint32_t max_frames) {
  const uintptr_t high = stack_high();
  auto fp = reinterpret_cast<uintptr_t>(__builtin_frame_address(0));
  uint32_t n = 0;
  while (n < max_frames && high != 0) {
    // A frame is [saved fp, return address]; stop at anything that does not look like one.
    if (fp % sizeof(uintptr_t) != 0 || fp + 2 * sizeof(uintptr_t) > high) break;
    const auto* frame = reinterpret_cast<const uintptr_t*>(fp);
    const uintptr_t next = frame[0];
    const uintptr_t ret = frame[1];
    if (ret == 0) break;
    if (!is_own_frame(ret)) frames[n++] = ret;
    if (next <= fp || next - fp > (uintptr_t{1} << 22)) break;
    fp = next;
  }
  return n;
}

uint32_t walk_libunwind(uint64_t* frames, uint32_t max_frames) {
  void* raw[kMaxFrames + 8];
  const int got = unw_backtrace(raw, static_cast<int>(kMaxFrames + 8));
  uint32_t n = 0;
  for (int i = 0; i < got && n < max_frames; ++i) {
    const auto address = reinterpret_cast<uintptr_t>(raw[i]);
    if (!is_own_frame(address)) frames[n++] = address;
  }
  return n;
}

}  // namespace

uint32_t capture_stack(Unwinder how, uint64_t* frames, uint32_t max_frames) {
  if (how == kUnwindFramePointers) return walk_frame_pointers(frames, max_frames);
  return walk_libunwind(frames, max_frames);
}

}  // namespace memvisor_sampler
