// libFuzzer target: the /proc files memvisor reads about processes it does not control (a
// worker's comm and mappings are the worker's to choose): status, statm, smaps_rollup, smaps
// (grouped by module, as an incident bundle does), stat (both parsers), maps, /proc/stat's btime,
// meminfo, /proc/PID/cgroup and a /dev/kmsg record (an OOM kill's victim). Every input goes
// through all of them.
#include "core/proc/children_list.h"
#include "core/proc/kernel_log.h"
#include "core/proc/memory_parse.h"
#include "core/proc/memory_parse_cgroup.h"
#include "core/proc/smaps_modules.h"
#include "fuzz_input.h"
#include "heap_report/proc_maps.h"
#include "os/proc.h"
#include "os/process_usage.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace memvisor;
  const std::string_view text = fuzz::as_text(data, size);
  (void)parse_proc_status(text);
  (void)parse_statm(text, 4096);
  (void)parse_smaps_rollup(text);
  if (auto modules = parse_smaps_by_module(text)) (void)format_smaps_top(*modules, 30);
  (void)parse_proc_stat(text);
  (void)parse_process_usage(text, ProcessClock{}, "fuzz");
  (void)parse_boot_time(text);
  (void)parse_meminfo(text);
  (void)parse_proc_cgroup(text);
  (void)parse_proc_maps(text);
  (void)parse_oom_kill_record(text);
  std::vector<int> children;
  parse_children_list(text, children);
  return 0;
}
