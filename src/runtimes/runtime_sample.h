// A heap sample of a managed runtime, taken from outside the process (or through the agent
// memvisor put into it at spawn), in the runtime's own terms. Each runtime has its own file set:
// node/ (the V8 inspector), jvm/ (HotSpot's attach protocol and JFR), agent/ (the Python and Ruby
// agents), go/ (the app's net/http/pprof endpoint).
#pragma once

#include <functional>
#include <string>

#include "core/proc/runtime_kind.h"
#include "core/result.h"
#include "core/units.h"
#include "heap_report/runtime_profile.h"

namespace memvisor {

struct RuntimeSampleRequest {
  int pid = 0;
  Millis duration{30000};
  Millis timeout{120000};                // from the request to giving up on the answer
  uint64_t interval_bytes = 512 * 1024;  // the mean bytes between samples, where the method has one
  std::string agent_dir;  // where agents listen; "" : the process's MEMVISOR_SAMPLER_DIR
  std::string pprof_url;  // Go: the app's pprof base, e.g. http://127.0.0.1:6060
  std::string proc_root = "/proc";
};

// Called about every 200 ms while the window is open: elapsed time and a short state
// ("waiting for the inspector", "recording", "reading the profile").
using SampleProgress = std::function<void(Millis elapsed, const char* state)>;

Result<RuntimeProfile> sample_node(const RuntimeSampleRequest& request,
                                   const SampleProgress& progress);
Result<RuntimeProfile> sample_jvm(const RuntimeSampleRequest& request,
                                  const SampleProgress& progress);
Result<RuntimeProfile> sample_python(const RuntimeSampleRequest& request,
                                     const SampleProgress& progress);
Result<RuntimeProfile> sample_ruby(const RuntimeSampleRequest& request,
                                   const SampleProgress& progress);
Result<RuntimeProfile> sample_go(const RuntimeSampleRequest& request,
                                 const SampleProgress& progress);

// One of the above by kind (not native: that is heap_report/sample_window.h).
Result<RuntimeProfile> sample_runtime(RuntimeKind kind, const RuntimeSampleRequest& request,
                                      const SampleProgress& progress);

}  // namespace memvisor
