// libFuzzer target: the cgroup files memvisor reads (a delegated cgroup's files may be written
// by whoever owns it): memory.stat (v2 and v1), memory.events, memory.pressure, and the single
// numbers (memory.current, memory.max with its "max"). Every input goes through all of them.
#include "core/proc/memory_parse_cgroup.h"
#include "fuzz_input.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace memvisor;
  const std::string_view text = fuzz::as_text(data, size);
  (void)parse_cgroup_v2_memory_stat(text);
  (void)parse_cgroup_v1_memory_stat(text);
  (void)parse_cgroup_memory_events(text);
  (void)parse_psi(text);
  (void)parse_cgroup_number(text);
  (void)parse_cgroup_limit(text);
  return 0;
}
