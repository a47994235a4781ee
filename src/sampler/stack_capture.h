// The call stack of a sampled allocation: return addresses, innermost first, without the
// sampler's own frames. By default (on x86-64) each frame is stepped by a rule learned from
// libunwind's DWARF CFI unwinding the first time its return address was seen (frame_rules.h):
// libunwind's stacks, for code built with or without frame pointers, at about the cost of a
// frame-pointer walk. MEMVISOR_SAMPLER_UNWIND=libunwind walks every sample with libunwind;
// =fp follows frame pointers alone, meaningful only for code built with them.
#pragma once

#include <stdint.h>

#include "sampler/sampler_abi.h"

namespace memvisor_sampler {

uint32_t capture_stack(Unwinder how, uint64_t* frames, uint32_t max_frames);

// How many captures so far had libunwind walk the whole stack, in this process.
uint64_t stacks_walked_by_libunwind();

// What capture_stack does when nothing is asked: cached rules on x86-64, libunwind elsewhere.
#if defined(__x86_64__)
inline constexpr Unwinder kDefaultUnwinder = kUnwindCachedRules;
#else
inline constexpr Unwinder kDefaultUnwinder = kUnwindLibunwind;
#endif

}  // namespace memvisor_sampler
