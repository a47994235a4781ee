// libFuzzer target: a trace CSV as `memvisor replay` reads it (recorded elsewhere, or written by
// hand). What parses must be rectangular with times that never decrease.
#include "core/rules/trace_csv.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto trace = memvisor::parse_trace_csv(memvisor::fuzz::as_text(data, size), "fuzz.csv");
  if (!trace) return 0;
  if (trace->t_s.size() != trace->values.size()) __builtin_trap();
  for (size_t row = 0; row < trace->values.size(); ++row) {
    if (trace->values[row].size() != trace->columns.size()) __builtin_trap();
    if (row > 0 && trace->t_s[row] < trace->t_s[row - 1]) __builtin_trap();
  }
  return 0;
}
