// The kernel log's records, as /dev/kmsg gives them one per read ("PRIO,SEQ,USEC,FLAGS;TEXT",
// then continuation lines starting with a space), and the one kind memvisor looks for: the OOM
// killer naming its victim. Pure: os/kernel_log_reader reads the device.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace memvisor {

struct OomKillRecord {
  int pid = 0;
  std::string comm;   // the victim's command name, as the kernel printed it (may be empty)
  uint64_t usec = 0;  // the record's time: microseconds of the kernel's clock since boot
};

// The victim named by one /dev/kmsg record: "Out of memory: Killed process PID (COMM) ..." (also
// "Memory cgroup out of memory: ..." and older kernels' "Killed process PID (COMM)"), or the
// summary line "oom-kill:constraint=...,task=COMM,pid=PID,uid=UID". Only records of the kernel
// itself (facility 0) count. nullopt for any other record or a malformed one.
std::optional<OomKillRecord> parse_oom_kill_record(std::string_view record);

}  // namespace memvisor
