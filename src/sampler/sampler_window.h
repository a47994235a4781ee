// Sampling windows inside the preload library: open on request, record samples into the raw
// file memvisor named, close at the deadline (from one helper thread started only when armed)
// or at exit, appending a /proc/self/maps snapshot without calling malloc.
#pragma once

#include "sampler/sampler_abi.h"

namespace memvisor_sampler {

void window_set_control(ControlPage* page);  // nullptr: no control page
void window_set_unwinder(const char* name);  // "fp" or anything else (libunwind)
void window_finish_at_exit();
void window_before_fork();
void window_after_fork(bool child);

}  // namespace memvisor_sampler
