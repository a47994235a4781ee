// The heap sample report: estimated bytes allocated during the window and still retained at its
// end, grouped by module, function, file:line, size class or type, and whole stack. The native
// sampler and every managed runtime (runtime_profile.h) give the same report.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "heap_report/raw_samples.h"
#include "heap_report/symbolizer.h"

namespace memvisor {

struct Estimate {
  double bytes = 0;  // sum of sample weights
  double count = 0;  // estimated allocations: sum of weight / size
  uint64_t samples = 0;

  void add(const RawSample& sample);
  void add(double more_bytes, double more_count, uint64_t more_samples);
};

struct ReportRow {
  std::string key;  // module, function, file:line, size class, or a stack id
  Estimate allocated;
  Estimate retained;
  std::vector<std::string> frames;  // top_stacks only: "function (file:line) [module]"
};

struct HeapReport {
  std::string runtime = "native";
  std::string method;  // how it was measured
  std::string covers;  // which memory the figures cover
  bool allocated_known = true;
  bool retained_known = true;
  uint32_t pid = 0;
  double window_s = 0;
  uint64_t interval_bytes = 0;
  std::string unwinder;
  uint32_t libunwind_walks = 0;  // of the samples, those libunwind walked in full
  bool complete = false;
  uint64_t dropped = 0;
  Estimate total_allocated;
  Estimate total_retained;
  std::vector<ReportRow> by_module, by_function, by_location, by_size_class, by_type, top_stacks;
  std::vector<std::string> caveats;  // how to read it
};

// The pieces both reports share: "file:line" (or "function [module]" without a file), a frame
// for reading ("function (file:line) [module]"), and a table's rows by retained, then allocated
// bytes, at most `limit`.
using ReportTable = std::map<std::string, ReportRow>;
std::string frame_location(const SourceFrame& frame);
std::string describe_frame(const SourceFrame& frame);
std::vector<ReportRow> rank_rows(ReportTable table, size_t limit);

// The allocation site of a sample: its innermost frame that is not plumbing, the allocator's
// (operator new, strdup, ...) or the C and C++ standard libraries', so `new T`, a std::string
// built or a line read by getline is charged to the code that asked for it.
bool is_plumbing_frame(const SourceFrame& frame);

// Rows sorted by retained bytes, then allocated bytes; at most `limit` per table.
HeapReport build_heap_report(const RawSamples& raw, Symbolizer& symbolizer, size_t limit = 20);

nlohmann::json heap_report_json(const HeapReport& report);
std::string heap_report_summary(const HeapReport& report);
// One line for an incident's summary.txt from a written report (heap_report_json's document, in
// any runtime): the runtime, native's sampling interval, the top function and the top line, each
// with its share: "native, one sample per 136 KiB on average; top function leak_known_bytes ~1.2
// MiB retained; top line workload.c:42 ~1.2 MiB retained". What it lacks is left out; never
// throws.
std::string heap_report_headline(const nlohmann::json& report);

}  // namespace memvisor
