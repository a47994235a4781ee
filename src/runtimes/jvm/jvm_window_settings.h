// The JFR settings of a sample window (a .jfc file the JVM reads): jdk.OldObjectSample with stack
// traces, no path-to-GC-roots search; jdk.ObjectAllocationSample with stack traces, throttled so
// that a window of any length yields about 1000 allocation samples. Every other event is off.
#pragma once

#include <string>

#include "core/units.h"

namespace memvisor {

struct JvmWindowSettings {
  std::string jfc;                  // the file's text
  std::string allocation_throttle;  // "100/s", "33/s", "16/min"
};

// Pure.
JvmWindowSettings jvm_window_settings(Millis window);

}  // namespace memvisor
