// A heap profile taken from a managed runtime (V8, CPython, HotSpot, Ruby, Go) in the source's own
// terms, and its conversion to the same HeapReport the native sampler gives.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/result.h"
#include "heap_report/heap_report.h"
#include "heap_report/symbolizer.h"

namespace memvisor {

// One stack (or one class, for by-type totals) with what the window saw of it.
struct ProfileEntry {
  std::vector<SourceFrame> frames;  // innermost first; module: package, gem, script or jar
  size_t site = 0;   // the frame charged in by_function/by_location/by_module (the producer skips
                     // the runtime's own plumbing: node:internal, java.util.*, ...)
  std::string type;  // class or object type; "" when the method gives none
  double allocated_bytes = 0;
  double allocated_count = 0;
  double retained_bytes = 0;
  double retained_count = 0;
  uint64_t samples = 0;           // samples behind the allocated figures (or the retained ones
                                  // when the method tells only those)
  uint64_t retained_samples = 0;  // behind the retained figures, when they differ; 0: `samples`
};

struct RuntimeProfile {
  std::string runtime;  // "node", "python", "jvm", "ruby", "go"
  std::string method;   // one line: how it was measured
  std::string covers;   // which memory the figures cover (and which they do not)
  uint32_t pid = 0;
  double window_s = 0;
  bool complete = true;
  uint64_t interval_bytes = 0;  // the sampling interval, where the method has one
  bool allocated_known = true;  // the method tells what was allocated in the window
  bool retained_known = true;   // ... and what of it is still alive at its end
  std::vector<ProfileEntry> entries;
  // By-class totals measured apart from the stacks (a class histogram); empty: by_type comes
  // from the entries' types.
  std::vector<ProfileEntry> types;
  std::vector<std::string> caveats;
};

// Rows sorted as the native report's; at most `limit` per table.
HeapReport build_runtime_report(const RuntimeProfile& profile, size_t limit = 20);

// The profile an in-process agent (Python, Ruby) sends back, validated: wrong types, missing
// fields and oversized tables are errors, never crashes.
Result<RuntimeProfile> runtime_profile_from_json(const nlohmann::json& j);
nlohmann::json runtime_profile_json(const RuntimeProfile& profile);

}  // namespace memvisor
