// The two JFR events of a JVM sample as `jfr print --json` writes them, read one event at a time
// (the whole document can be tens of MiB): jdk.OldObjectSample (a sampled object still alive, with
// its allocation time and stack) and jdk.ObjectAllocationSample (a throttled allocation sample
// weighted by the bytes its thread allocated since its previous one).
#pragma once

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "heap_report/symbolizer.h"

namespace memvisor {

struct JfrSample {
  bool old_object = false;      // jdk.OldObjectSample; else jdk.ObjectAllocationSample
  int64_t time_ns = 0;          // Unix ns: the allocation time of an old object, else the event's
  std::string type;             // "byte[]", "com.example.Invoice"; "" when JFR gives none
  int64_t array_elements = -1;  // old objects that are arrays
  int64_t object_bytes = 0;     // old objects: their size, where JFR records it (JDK 25, not 17)
  double weight = 0;            // allocation samples: bytes
  std::string thread;           // the Java thread's name
  int64_t thread_id = 0;
  std::vector<SourceFrame> frames;  // innermost first
  size_t site = 0;                  // the innermost frame outside the class library
};

// Pure: one event object of the printer's output; an error for another event type or a
// malformed one.
Result<JfrSample> jfr_sample_from_json(const nlohmann::json& event);

// Pure: "2026-12-05T06:09:08.883068233Z" (UTC, any number of fraction digits) to Unix ns.
Result<int64_t> parse_jfr_time(std::string_view text);

// Cuts the printer's {"recording": {"events": [E, E, ...]}} into its events as bytes arrive,
// holding one event at a time.
class JfrEventStream {
 public:
  using OnEvent = std::function<void(std::string_view event_json)>;
  explicit JfrEventStream(OnEvent on_event, size_t max_event_bytes = size_t{16} << 20)
      : on_event_(std::move(on_event)), max_event_(max_event_bytes) {}
  Status feed(std::string_view bytes);
  bool finished() const { return closed_; }  // the document's last brace was seen

 private:
  OnEvent on_event_;
  size_t max_event_;
  std::string event_;
  int depth_ = 0;
  bool in_string_ = false;
  bool escaped_ = false;
  bool closed_ = false;
};

}  // namespace memvisor
