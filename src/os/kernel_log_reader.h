// The kernel log (/dev/kmsg), read without blocking from where it stood when opened, for the OOM
// killer's victims: an exact name for an OOM kill where the instance has no cgroup of its own.
// Reading it needs CAP_SYSLOG unless kernel.dmesg_restrict is 0; containers often deny it, and
// memvisor then goes by the machine's OOM kill count alone.
#pragma once

#include <string>
#include <vector>

#include "core/proc/kernel_log.h"
#include "core/result.h"
#include "os/unique_fd.h"

namespace memvisor {

class KernelLogReader {
 public:
  static Result<KernelLogReader> open(const std::string& path = "/dev/kmsg");
  // The OOM kills recorded since the last call (or the open). At most `max_records` records are
  // read per call, so a flooded log cannot hold up the caller; records the kernel overwrote
  // before they were read are skipped.
  std::vector<OomKillRecord> oom_kills(size_t max_records = 4096);

 private:
  explicit KernelLogReader(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

}  // namespace memvisor
