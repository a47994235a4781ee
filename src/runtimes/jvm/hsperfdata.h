// HotSpot's performance-data file (/tmp/hsperfdata_USER/PID, -XX:+UsePerfData, the default): the
// counters jps and the attach API read to tell, without touching the process, whether a JVM
// accepts attach (sun.rt.jvmCapabilities) and how much heap it uses.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace memvisor {

struct PerfData {
  std::map<std::string, int64_t> numbers;    // 'J' scalars: "sun.gc.generation.0.space.0.used"
  std::map<std::string, std::string> texts;  // 'B' vectors: "sun.rt.jvmCapabilities"

  // sun.rt.jvmCapabilities's first character: '1' unless -XX:+DisableAttachMechanism.
  std::optional<bool> attach_supported() const;
  // The sum of every sun.gc.generation.G.space.S.used; nothing when the collector exports none.
  std::optional<uint64_t> heap_used() const;
};

// Pure: the counters of a perf-data file's bytes; an error for anything that is not one.
Result<PerfData> parse_perf_data(std::string_view bytes);

}  // namespace memvisor
