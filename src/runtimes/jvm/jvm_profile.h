// A JVM window's JFR samples and class histograms as a RuntimeProfile: which stacks allocated
// (jdk.ObjectAllocationSample), which objects allocated in the window are still alive at its end
// (jdk.OldObjectSample), and how much each class grew (GC.class_histogram before and after).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "heap_report/runtime_profile.h"
#include "runtimes/jvm/class_histogram.h"
#include "runtimes/jvm/jfr_events.h"

namespace memvisor {

struct JvmWindow {
  int64_t start_ns = 0;  // Unix ns just before the recording was asked for
  double window_s = 0;
  std::vector<JfrSample> samples;
  std::optional<ClassHistogram> before;  // both or neither
  std::optional<ClassHistogram> after;
  std::string allocation_throttle;   // the jdk.ObjectAllocationSample throttle, "100/s"
  std::vector<std::string> caveats;  // the sampler's own (pauses, skipped histograms)
};

// Pure. Survivors of a class that grew share its growth (each sample stands for an equal share:
// OldObjectSample samples roughly in proportion to bytes); survivors of a class that did not
// grow, or without histograms, count their own size. Samples from before the window, a thread's
// first allocation sample when the recording holds none of that thread before the window (its
// weight reaches back to the thread's start) and samples of the attach and JFR threads
// (memvisor's own requests) are left out.
RuntimeProfile jvm_profile(const JvmWindow& window);

}  // namespace memvisor
