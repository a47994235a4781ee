// A heap sample of a live process before a leak recycle: `memvisor sample --pid` (this very
// executable) runs as a child watched by the supervisor's loop (child_capture.h). The window, the
// wait for the process's answer and the symbol work (libdwfl) all happen in that child, so the
// loop never waits for them and a crash in them costs only the sample.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "core/units.h"
#include "supervisor/child_capture.h"

namespace memvisor {

struct HeapSampleSpec {
  pid_t pid = 0;
  Millis duration{30000};
  uint64_t interval_bytes = 512 * 1024;
  std::string out_path;                       // the JSON report; its owner removes it
  std::string executable = "/proc/self/exe";  // a memvisor with the `sample` command
  std::string runtime = "auto";               // the service's heap_sampler: auto or a name
  std::string pprof;                          // a Go worker's pprof endpoint
};

struct HeapSampleResult {
  std::optional<std::string> report;  // out_path, once written
  std::string why_none;               // one line, when there is no report
};

// The mean bytes between samples for a window on a process whose memory grows at
// `slope_bytes_per_hour`: small enough that the window sees about 64 samples of the leak itself,
// within [32 KiB, 512 KiB] (the sampler's default; a smaller interval costs the worker more).
uint64_t heap_sample_interval(double slope_bytes_per_hour, Millis duration);

// How long the child may take, the window included: the wait for the process's first allocation
// and the symbol work on top. Past it the child is killed.
Millis heap_sample_deadline(Millis duration);

class HeapSampleCapture {
 public:
  using Done = std::function<void(HeapSampleResult result)>;

  // Starts the child; `done` runs once, later, from the loop. Destroying the capture before then
  // kills and reaps the child, and `done` never runs.
  HeapSampleCapture(EventLoop& loop, const HeapSampleSpec& spec, Done done);

  bool finished() const { return child_.finished(); }

 private:
  ChildCapture child_;
};

}  // namespace memvisor
