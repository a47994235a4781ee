// Go's heap profile in its text form (net/http/pprof's /debug/pprof/heap?debug=1): the live and
// cumulative allocations of each sampled stack, symbolised by the Go runtime itself.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "heap_report/runtime_profile.h"

namespace memvisor {

struct PprofHeapRecord {
  // As sampled: Go prints raw sample counts at debug=1; pprof_heap_diff() scales them.
  double inuse_objects = 0;
  double inuse_bytes = 0;
  double alloc_objects = 0;
  double alloc_bytes = 0;
  std::vector<SourceFrame> frames;  // innermost first
  std::string key;                  // the stack's addresses, as printed
};

struct PprofHeap {
  uint64_t sampling_rate = 0;  // runtime.MemProfileRate (the header prints twice it)
  std::vector<PprofHeapRecord> records;
};

// Pure: the text of /debug/pprof/heap?debug=1. A header without "heap profile:" or records that
// do not parse are errors; the "# runtime.MemStats" trailer is ignored.
Result<PprofHeap> parse_pprof_heap_text(std::string_view text);

// One profile from several taken back to back: per stack, the median of each count (a stack
// missing from a profile counts 0 there). A forced GC's mark runs alongside the program, and
// what it allocates meanwhile is kept for that cycle (allocated black), so each profile shows
// some fresh garbage as live, more for a bigger heap; the median of three damps one bad draw.
PprofHeap pprof_heap_median(const std::vector<PprofHeap>& profiles);

// The window between two profiles of one process: allocated = the growth of the cumulative
// counts, retained = the growth of the live counts (never below 0), each scaled from samples to
// estimated bytes and objects as Go's own pprof tool does.
RuntimeProfile pprof_heap_diff(const PprofHeap& before, const PprofHeap& after);

}  // namespace memvisor
