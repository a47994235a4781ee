// The memvisor side of a sampling window: find a process's control page, ask for a window, wait
// for the raw file, and hand back the samples. Used by `memvisor sample` and by rules that want a
// heap sample before they recycle.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "core/result.h"
#include "core/units.h"
#include "heap_report/raw_samples.h"

namespace memvisor {

struct SampleWindowRequest {
  int pid = 0;
  Millis duration{30000};
  Millis timeout{120000};  // from the request to giving up on the answer
  uint64_t interval_bytes = 512 * 1024;
  std::string control_dir;  // "" : from the process's MEMVISOR_SAMPLER_DIR, else the default
  std::string proc_root = "/proc";
};

// The directory holding PID.ctl for a process: its MEMVISOR_SAMPLER_DIR, else the library's
// default (/tmp/memvisor-sampler-UID, UID the owner of the process).
std::string sampler_control_dir(int pid, const std::string& proc_root = "/proc");

// One window, step by step, for an event loop: start() writes the request; poll() returns
// nothing while the window is open and the result once it is over (or at the timeout).
class HeapSampleSession {
 public:
  HeapSampleSession();
  ~HeapSampleSession();
  HeapSampleSession(const HeapSampleSession&) = delete;
  HeapSampleSession& operator=(const HeapSampleSession&) = delete;

  Status start(const SampleWindowRequest& request);
  std::optional<Result<RawSamples>> poll();
  bool recording() const;  // the process has opened the window

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Asks for one window and waits for it. `progress(elapsed, state)` is called about every 200 ms
// while waiting. A process that does not allocate at all during the window never opens it: the
// answer is then an empty, incomplete sample set with the maps read from /proc.
Result<RawSamples> take_heap_sample(const SampleWindowRequest& request,
                                    const std::function<void(Millis, const char*)>& progress = {});

}  // namespace memvisor
