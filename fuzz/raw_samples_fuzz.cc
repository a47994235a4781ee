// libFuzzer target: a raw heap-sample file as the sampler (inside the worker, so in the worker's
// hands) leaves it in the state dir, parsed as `memvisor sample` reads it.
#include "fuzz_input.h"
#include "heap_report/proc_maps.h"
#include "heap_report/raw_samples.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto raw = memvisor::parse_raw_samples(memvisor::fuzz::as_text(data, size));
  if (!raw) return 0;
  (void)memvisor::parse_proc_maps(raw->maps);
  return 0;
}
