// The memory-pressure rule's pure parts: the PSI trigger lines it arms, when a polled reading
// counts as pressure, and which instance it recycles (README "Memory pressure").
#pragma once

#include <cstddef>
#include <deque>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/proc/memory_parse_cgroup.h"
#include "core/rules/timed_sample.h"

namespace memvisor {

// "some 1000000 10000000": stall microseconds per window microseconds, one per configured kind
// (the kernel takes one trigger per open file). `window` may differ from the rule's when the
// kernel wants it rounded (an unprivileged trigger's window is a multiple of 2 s).
std::vector<std::string> psi_triggers(const PressureRule& rule, Millis window);

// Polled fallback: avg10 of `some` (or `full`) at or above the rule's share.
bool psi_over(const PressureRule& rule, const Psi& psi);

// One instance that may be recycled: its private memory and how fast that grew.
struct PressureCandidate {
  uint64_t uss = 0;
  double growth_bytes_per_s = 0;  // over the recent samples; 0 when unknown
};

// USS growth over about the last `span_s` seconds of the series (at least its last two samples);
// 0 with fewer than two.
double recent_growth(const std::deque<TimedSample>& series, double span_s);

// The candidate to recycle: the largest USS, or the fastest growth (ties, and a pool where
// nothing grows, fall back to the largest). nullopt when there is none.
std::optional<size_t> choose_pressure_victim(PressurePick pick,
                                             std::span<const PressureCandidate> candidates);

}  // namespace memvisor
