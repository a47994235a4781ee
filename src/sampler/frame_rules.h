// How to go from a frame to its caller, learned once per return address and then reused: the
// sampler's stack walk without libunwind's per-sample work (a saved register context, a 1 KiB
// cursor, and a lookup in a 256 KiB per-thread cache, about 0.5 µs a sample with cold caches).
//
// A rule is read off what libunwind's DWARF CFI unwinding found for that frame: where the
// caller's stack pointer is (the CFA), and where the caller's frame pointer was saved. Two
// shapes cover compiled code on x86-64: a frame-pointer frame (CFA = rbp + 16, caller's rbp at
// CFA - 16), and a frame whose CFA is a fixed distance above rsp at that return address (any
// function without a frame pointer: without one, the compiler cannot move rsp by a variable
// amount). Anything else (signal frames, unusual CFI) is never cached, so its samples take
// libunwind every time.
//
// Pure logic: no libunwind, no allocation; the table is a fixed array filled lock-free.
#pragma once

#include <stddef.h>
#include <stdint.h>

namespace memvisor_sampler {

enum class FrameKind : uint8_t {
  kUnknown = 0,
  kFramePointer = 1,  // CFA = rbp + 16; return address at CFA - 8; caller's rbp at CFA - 16
  kStackPointer = 2,  // CFA = rsp + cfa_offset; caller's rbp at CFA + rbp_offset, or unchanged
  kOutermost = 3,     // the walk ends here (libunwind found no caller)
};

struct FrameRule {
  FrameKind kind = FrameKind::kUnknown;
  int32_t cfa_offset = 0;  // kStackPointer: CFA - rsp
  int32_t rbp_offset = 0;  // kStackPointer: where the caller's rbp was saved, from the CFA; 0: not
};

// A frame's registers as the walk knows them: its return address into it (ip), its rsp, rbp.
struct FrameRegs {
  uintptr_t ip;
  uintptr_t sp;
  uintptr_t fp;
};

// The rule for a frame libunwind stepped over: its rsp and rbp, the CFA (the caller's rsp), and
// the address the caller's rbp was restored from, or 0 when the frame left rbp alone. kUnknown
// when the observation fits neither shape (or its offsets do not fit a rule).
FrameRule derive_frame_rule(uintptr_t sp, uintptr_t fp, uintptr_t cfa, uintptr_t fp_saved_at);

// Applies `rule` to `regs`, reading the caller's return address (and rbp) from the stack.
// Reads only inside [regs.sp, stack_high); false (regs untouched) when the rule would leave
// that range, or would not move up the stack, which is where a walk of a damaged stack stops.
bool step_frame(const FrameRule& rule, FrameRegs& regs, uintptr_t stack_high);

// Rules by return address, shared by all threads. Slots are claimed with one compare-and-swap
// and never freed; when the table is full, new addresses stay unknown (libunwind handles them).
// Rules carry the code generation they were learned in: after a dlclose, bump_generation()
// makes every older rule unknown, since another library may be loaded at the same addresses.
class FrameRuleTable {
 public:
  static constexpr size_t kSlots = 4096;

  FrameRule lookup(uintptr_t ip) const;
  void insert(uintptr_t ip, const FrameRule& rule);
  void bump_generation();

 private:
  struct Slot {
    uint64_t ip;    // 0: free
    uint64_t rule;  // packed FrameRule and generation; 0: not yet written
  };
  uint64_t pack(const FrameRule& rule) const;
  Slot slots_[kSlots] = {};
  uint32_t generation_ = 1;
};

}  // namespace memvisor_sampler
