// One process's /proc files held open: its /proc/PID directory, which pins the process (whatever
// is read through it is that process, never a later one given the same pid), and its memory files
// read with pread, so that a sample costs one system call per file.
#pragma once

#include <sys/types.h>

#include <array>
#include <string>
#include <vector>

#include "core/result.h"
#include "os/proc.h"
#include "os/unique_fd.h"

namespace memvisor {

// Which /proc file measures a process: smaps_rollup gives PSS and USS (the kernel walks the page
// tables); status and statm only count pages, and cost less.
enum class MemorySource { rollup, status, statm };

class OpenedProcess {
 public:
  OpenedProcess() = default;
  // Opens proc_root/PID and reads its stat through it. ENOENT or ESRCH: no such process.
  static Result<OpenedProcess> open(const std::string& proc_root, pid_t pid);

  pid_t pid() const { return stat_.pid; }
  // As read when opened: start time and parent do not change while the process lives.
  const ProcStat& stat() const { return stat_; }

  // The whole text of `source` into `buffer`. An Error with ENOENT or ESRCH when the process is
  // gone, or (rollup) has no address space: a zombie. A held rollup file reads the address space
  // the process had when it was opened, which an exec replaces, so a held file's ESRCH or empty
  // read is retried once on a fresh open.
  Status read(MemorySource source, std::string& buffer);

  // The pids of the process's children, from task/TID/children (CONFIG_PROC_CHILDREN); an Error
  // with ENOENT when the kernel has no such file.
  Result<std::vector<pid_t>> children() const;

  // Whether the process still exists (not yet reaped).
  bool alive() const;

 private:
  Status open_file(MemorySource source);
  UniqueFd& file(MemorySource source) { return files_[static_cast<size_t>(source)]; }

  UniqueFd dir_;
  std::array<UniqueFd, 3> files_;  // by MemorySource, opened on first use
  ProcStat stat_;
};

}  // namespace memvisor
