// The call stack of a sampled allocation: return addresses, innermost first, without the
// sampler's own frames. libunwind (DWARF CFI, correct for code built without frame pointers) by
// default; frame pointers when asked (MEMVISOR_SAMPLER_UNWIND=fp), cheaper but only meaningful
// for programs and libraries built with -fno-omit-frame-pointer.
#pragma once

#include <stdint.h>

#include "sampler/sampler_abi.h"

namespace memvisor_sampler {

uint32_t capture_stack(Unwinder how, uint64_t* frames, uint32_t max_frames);

}  // namespace memvisor_sampler
