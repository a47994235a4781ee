// Poisson sampling by bytes, the pure part: the next countdown and the weight of a sample.
// Every byte allocated is equally likely to be chosen; an allocation is sampled when the
// per-thread countdown crosses zero inside it, which happens with probability
// 1 - exp(-size / interval), so each sample stands for size / that probability bytes.
#pragma once

#include <math.h>
#include <stdint.h>

namespace memvisor_sampler {

// xorshift64*: a per-thread generator; quality is ample for choosing sample points.
inline uint64_t next_random(uint64_t& state) {
  state ^= state >> 12;
  state ^= state << 25;
  state ^= state >> 27;
  return state * 0x2545F4914F6CDD1DULL;
}

// An exponentially distributed gap with the given mean, at least 1 byte.
inline int64_t next_sample_gap(uint64_t& state, uint64_t mean_bytes) {
  // 53 random bits in (0, 1]: never log(0).
  const double u = (static_cast<double>(next_random(state) >> 11) + 1.0) * 0x1.0p-53;
  const double gap = -log(u) * static_cast<double>(mean_bytes);
  if (gap < 1.0) return 1;
  if (gap > 9.0e18) return INT64_MAX;
  return static_cast<int64_t>(gap);
}

// Unbiased weight of a sampled allocation of `size` bytes.
inline double sample_weight(uint64_t size, uint64_t mean_bytes) {
  const double ratio = static_cast<double>(size) / static_cast<double>(mean_bytes);
  if (ratio > 40.0) return static_cast<double>(size);  // sampled with probability ~1
  return static_cast<double>(size) / -expm1(-ratio);
}

}  // namespace memvisor_sampler
