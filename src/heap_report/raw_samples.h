// The raw sample file written by libmemvisor_sampler.so, parsed into plain values.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace memvisor {

struct RawSample {
  uint64_t size = 0;
  double weight = 0;  // estimated bytes this sample stands for
  uint64_t alloc_ns = 0;
  uint64_t freed_ns = 0;  // 0: still live
  uint32_t thread = 0;
  std::vector<uint64_t> frames;  // return addresses, innermost first
};

struct RawSamples {
  uint32_t pid = 0;
  uint64_t interval_bytes = 0;
  uint64_t start_ns = 0;
  uint64_t end_ns = 0;
  int64_t start_realtime_s = 0;
  bool complete = false;           // the window closed and the maps snapshot is present
  uint64_t dropped = 0;            // chosen but not recorded (log full, too big, over-aligned)
  std::string unwinder;            // "libunwind", its cached form, or "frame pointers"
  uint32_t libunwind_walks = 0;    // samples whose whole stack libunwind walked
  std::vector<RawSample> samples;  // recorded inside the window only
  std::string maps;                // /proc/PID/maps at the end of the window
};

// Pure: the bytes of a raw file. An incomplete file (the window still open or the process gone)
// parses with complete = false and every record written so far.
Result<RawSamples> parse_raw_samples(std::string_view bytes);
Result<RawSamples> read_raw_samples(const std::string& path);
// The same from an open file (read from offset 0); `name` is for messages.
Result<RawSamples> read_raw_samples(int fd, const std::string& name);

}  // namespace memvisor
