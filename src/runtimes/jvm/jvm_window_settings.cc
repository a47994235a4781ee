// The window's .jfc text.
#include "runtimes/jvm/jvm_window_settings.h"

#include <algorithm>

namespace memvisor {

JvmWindowSettings jvm_window_settings(Millis window) {
  // About 1000 allocation samples per window, at most 100 a second: each carries a stack trace
  // of up to 64 frames, and the JSON the reader parses grows with them.
  constexpr int64_t kBudget = 1000;
  const int64_t seconds = std::max<int64_t>(window.count() / 1000, 1);
  JvmWindowSettings out;
  if (kBudget / seconds >= 1) {
    out.allocation_throttle = std::to_string(std::min<int64_t>(kBudget / seconds, 100)) + "/s";
  } else {
    out.allocation_throttle = std::to_string(std::max<int64_t>(kBudget * 60 / seconds, 1)) + "/min";
  }
  // cutoff 0: the samples are emitted without the search for their paths to GC roots, a heap
  // traversal in a safepoint whose result the report has no place for.
  out.jfc = R"(<?xml version="1.0" encoding="UTF-8"?>
<configuration version="2.0" label="memvisor heap sample" provider="memvisor">
  <event name="jdk.OldObjectSample">
    <setting name="enabled">true</setting>
    <setting name="stackTrace">true</setting>
    <setting name="cutoff">0 ns</setting>
  </event>
  <event name="jdk.ObjectAllocationSample">
    <setting name="enabled">true</setting>
    <setting name="stackTrace">true</setting>
    <setting name="throttle">)" +
            out.allocation_throttle + R"(</setting>
  </event>
</configuration>
)";
  return out;
}

}  // namespace memvisor
