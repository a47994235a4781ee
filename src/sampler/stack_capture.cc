// Stack capture for samples. Called with the recursion guard held, so a malloc inside the
// unwinder (libunwind's first use, pthread_getattr_np) is passed through unsampled.
#include "sampler/stack_capture.h"

#include <dlfcn.h>
#include <pthread.h>

#include "sampler/frame_rules.h"

#define UNW_LOCAL_ONLY
#include <libunwind.h>

// Bounds of this library's code, from the linker: frames inside it are the hooks themselves.
extern "C" {
extern const char __ehdr_start __attribute__((visibility("hidden")));
extern const char __etext __attribute__((visibility("hidden")));
}

namespace memvisor_sampler {
namespace {

struct StackBounds {
  uintptr_t low;
  uintptr_t high;  // 0: unknown
};
thread_local StackBounds t_stack __attribute__((tls_model("initial-exec"))) = {0, 0};

bool is_own_frame(uint64_t address) {
  return address >= reinterpret_cast<uintptr_t>(&__ehdr_start) &&
         address < reinterpret_cast<uintptr_t>(&__etext);
}

// This thread's stack, so that walks never read outside it.
StackBounds stack_bounds() {
  if (t_stack.high == 0) {
    pthread_attr_t attr;
    if (pthread_getattr_np(pthread_self(), &attr) == 0) {
      void* low = nullptr;
      size_t size = 0;
      if (pthread_attr_getstack(&attr, &low, &size) == 0)
        t_stack = {reinterpret_cast<uintptr_t>(low), reinterpret_cast<uintptr_t>(low) + size};
      pthread_attr_destroy(&attr);
    }
  }
  return t_stack;
}

// The registers of the caller of the function whose frame is `own_frame`: this library is built
// with frame pointers, so its frames are [saved rbp, return address].
FrameRegs caller_of(const void* own_frame) {
  const auto* own = static_cast<const uintptr_t*>(own_frame);
  return FrameRegs{own[1], reinterpret_cast<uintptr_t>(own) + 2 * sizeof(uintptr_t), own[0]};
}

// Every frame taken for a frame-pointer frame, until a step would leave the thread's stack.
__attribute__((noinline)) uint32_t walk_frame_pointers(uint64_t* frames, uint32_t max_frames) {
  const uintptr_t high = stack_bounds().high;
  FrameRegs regs = caller_of(__builtin_frame_address(0));
  uint32_t n = 0;
  while (n < max_frames && high != 0 && regs.ip != 0) {
    if (!is_own_frame(regs.ip)) frames[n++] = regs.ip;
    if (!step_frame(FrameRule{FrameKind::kFramePointer, 0, 0}, regs, high)) break;
  }
  return n;
}

uint64_t g_libunwind_walks = 0;

uint32_t walk_libunwind(uint64_t* frames, uint32_t max_frames) {
  __atomic_fetch_add(&g_libunwind_walks, 1, __ATOMIC_RELAXED);
  void* raw[kMaxFrames + 8];
  const int got = unw_backtrace(raw, static_cast<int>(kMaxFrames + 8));
  uint32_t n = 0;
  for (int i = 0; i < got && n < max_frames; ++i) {
    const auto address = reinterpret_cast<uintptr_t>(raw[i]);
    if (!is_own_frame(address)) frames[n++] = address;
  }
  return n;
}

#if defined(__x86_64__)
FrameRuleTable g_rules;  // 64 KiB of .bss; only the pages that hold rules are ever touched

// libunwind's walk of this stack, learning a rule for every frame it steps over on the way.
__attribute__((noinline)) uint32_t walk_libunwind_learning(uint64_t* frames, uint32_t max_frames) {
  __atomic_fetch_add(&g_libunwind_walks, 1, __ATOMIC_RELAXED);
  unw_context_t context;
  unw_cursor_t cursor;
  if (unw_getcontext(&context) != 0 || unw_init_local(&cursor, &context) != 0) return 0;
  uint32_t n = 0;
  for (uint32_t step = 0; step < kMaxFrames + 8 && n < max_frames; ++step) {
    unw_word_t ip = 0, sp = 0, fp = 0;
    unw_save_loc_t fp_before{};
    if (unw_get_reg(&cursor, UNW_REG_IP, &ip) != 0 || unw_get_reg(&cursor, UNW_REG_SP, &sp) != 0 ||
        unw_get_reg(&cursor, UNW_X86_64_RBP, &fp) != 0 ||
        unw_get_save_loc(&cursor, UNW_X86_64_RBP, &fp_before) != 0 || ip == 0)
      break;
    if (!is_own_frame(ip)) frames[n++] = ip;
    const bool signal_frame = unw_is_signal_frame(&cursor) > 0;
    const int stepped = unw_step(&cursor);
    if (stepped == 0) g_rules.insert(ip, FrameRule{FrameKind::kOutermost, 0, 0});
    if (stepped <= 0) break;
    // The caller's rsp is this frame's CFA. A rule is kept only for an ordinary frame: its
    // return address right below the CFA, the caller's rbp saved in memory or left alone.
    unw_word_t cfa = 0;
    unw_save_loc_t fp_after{}, ip_after{};
    if (signal_frame || unw_get_reg(&cursor, UNW_REG_SP, &cfa) != 0 ||
        unw_get_save_loc(&cursor, UNW_X86_64_RBP, &fp_after) != 0 ||
        unw_get_save_loc(&cursor, UNW_REG_IP, &ip_after) != 0)
      continue;
    if (ip_after.type != UNW_SLT_MEMORY || ip_after.u.addr != cfa - sizeof(uintptr_t) ||
        fp_after.type == UNW_SLT_REG)
      continue;
    const bool fp_saved_here =
        fp_after.type == UNW_SLT_MEMORY &&
        !(fp_before.type == UNW_SLT_MEMORY && fp_before.u.addr == fp_after.u.addr);
    g_rules.insert(ip, derive_frame_rule(sp, fp, cfa, fp_saved_here ? fp_after.u.addr : 0));
  }
  return n;
}

// The same walk from the learned rules, starting at this function's own frame (this library is
// built with frame pointers, so its frames need no rule). A walk counts only if it ends where
// libunwind's ended (an outermost frame) or as deep as libunwind would go; anything else (a frame
// without a rule yet, a step that leaves the stack) is left to libunwind, as is a stack that is
// not this thread's own (a coroutine's, say). A wrong rule leads the walk off the real chain of
// frames, where it is unlikely to end at an outermost frame: with every stack-pointer rule moved 8
// bytes, none of python3's or sqlite3's walks did.
__attribute__((noinline)) bool walk_rules(uint64_t* frames, uint32_t max_frames, uint32_t& depth) {
  const StackBounds stack = stack_bounds();
  FrameRegs regs = caller_of(__builtin_frame_address(0));
  if (regs.sp < stack.low || regs.sp >= stack.high) return false;
  uint32_t n = 0;
  for (uint32_t step = 0; step < kMaxFrames + 8; ++step) {
    if (n == max_frames) break;
    // Our own frames (the hook, its slow path, this walk) all keep frame pointers.
    const bool own_frame = is_own_frame(regs.ip);
    const FrameRule rule =
        own_frame ? FrameRule{FrameKind::kFramePointer, 0, 0} : g_rules.lookup(regs.ip);
    if (rule.kind == FrameKind::kUnknown) return false;
    if (!own_frame) frames[n++] = regs.ip;
    if (rule.kind == FrameKind::kOutermost) break;
    if (!step_frame(rule, regs, stack.high) || regs.ip == 0) return false;
  }
  depth = n;
  return true;
}

uint32_t walk_cached_rules(uint64_t* frames, uint32_t max_frames) {
  uint32_t depth = 0;
  if (walk_rules(frames, max_frames, depth)) return depth;
  return walk_libunwind_learning(frames, max_frames);
}

using DlcloseFunction = int (*)(void*);
DlcloseFunction g_real_dlclose = nullptr;
#endif

}  // namespace

uint64_t stacks_walked_by_libunwind() {
  return __atomic_load_n(&g_libunwind_walks, __ATOMIC_RELAXED);
}

uint32_t capture_stack(Unwinder how, uint64_t* frames, uint32_t max_frames) {
  if (how == kUnwindFramePointers) return walk_frame_pointers(frames, max_frames);
#if defined(__x86_64__)
  if (how == kUnwindCachedRules) return walk_cached_rules(frames, max_frames);
#endif
  return walk_libunwind(frames, max_frames);
}

}  // namespace memvisor_sampler

#if defined(__x86_64__)
// A library unloaded, and another possibly loaded at its addresses: rules learned so far may
// describe code that is gone, so they all become unknown.
extern "C" __attribute__((visibility("default"))) int dlclose(void* handle) {
  using memvisor_sampler::g_real_dlclose;
  auto real = __atomic_load_n(&g_real_dlclose, __ATOMIC_ACQUIRE);
  if (real == nullptr) {
    real = reinterpret_cast<memvisor_sampler::DlcloseFunction>(dlsym(RTLD_NEXT, "dlclose"));
    __atomic_store_n(&g_real_dlclose, real, __ATOMIC_RELEASE);
  }
  if (real == nullptr) return -1;
  const int result = real(handle);
  memvisor_sampler::g_rules.bump_generation();
  return result;
}
#endif
