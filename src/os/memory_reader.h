// Reads a process's memory, or its whole process tree's, from /proc (smaps_rollup, falling back to
// status and statm), and the host's meminfo and memory pressure. Every path under `proc_root`.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/proc/memory_parse.h"
#include "core/proc/memory_parse_cgroup.h"
#include "core/result.h"
#include "os/memory_reader_files.h"
#include "os/proc.h"

namespace memvisor {

// One measurement, in bytes; summed over the processes of a tree.
struct MemorySample {
  uint64_t rss = 0;
  uint64_t pss = 0;  // approximated by rss when !from_rollup
  uint64_t uss = 0;  // Private_Clean + Private_Dirty; approximated by RssAnon when !from_rollup
  uint64_t swap = 0;
  // What pss is made of (Pss_Anon/Pss_File/Pss_Shmem, Linux 5.9+), or what rss is made of
  // (RssAnon/RssFile/RssShmem from status) when the rollup has no such breakdown or !from_rollup.
  uint64_t anon = 0;
  uint64_t file = 0;
  uint64_t shmem = 0;
  bool from_rollup = true;  // false when any process was read from status or statm
  int processes = 0;
};

class ProcMemoryReader {
 public:
  // page_size 0 means the system's page size (statm counts pages).
  explicit ProcMemoryReader(std::string proc_root = kProcRoot, long page_size = 0);

  // One process. When `expected_start_ticks` is nonzero, /proc/PID/stat's start time must match
  // it, so a reused pid is never measured as the instance; a mismatch, or a process that is gone,
  // is an Error with errnum ESRCH. `source` rollup falls back to status, then statm, when the
  // rollup cannot be read.
  Result<MemorySample> read_process(pid_t pid, uint64_t expected_start_ticks = 0,
                                    MemorySource source = MemorySource::rollup);

  // The process and all its descendants, summed. Descendants that exit during the walk are left
  // out; only the root's failure is an error.
  Result<MemorySample> read_tree(pid_t pid, uint64_t expected_start_ticks = 0,
                                 MemorySource source = MemorySource::rollup);

  // A direct child of a process (a pre-fork master's worker), with its identity.
  struct Child {
    pid_t pid = 0;
    uint64_t start_ticks = 0;
  };
  // The direct children of `pid` (the process started at `expected_start_ticks`, when nonzero),
  // from its task/TID/children files (a scan by parent pid without them). Each is checked to be
  // `pid`'s child when first opened and is held like a read process (with keep_files_open), so
  // reading it with its start time never reads a later process given the same pid. Zombies (a
  // child that exited and that its master has not reaped yet) are left out.
  Result<std::vector<Child>> read_children(pid_t pid, uint64_t expected_start_ticks = 0);

  // Keeps every process's /proc directory and memory files open between reads (up to four fds
  // each, within a budget taken from RLIMIT_NOFILE), so that a sample is a pread and the start
  // time is checked once: the held directory pins the process. Whoever turns it on calls
  // close_unused() once per round of reads.
  void keep_files_open(bool keep);
  // With held files: the rollup (the kernel walks every page table for it) is read again only when
  // statm's resident or shared page count changed since the last one, or after `reads` reads;
  // otherwise the last rollup stands. Growth always changes the resident count; what does not
  // (a copy-on-write break, a sharer's exit moving PSS) is seen within `reads` reads. 1: always.
  // A process whose private memory (USS, swap) a refresh found unchanged is refreshed half as
  // often, down to once per kRollupStretch × `reads`; any change brings it back to `reads`. An
  // idle process then costs one statm read per sample, while copy-on-write growth that starts
  // after a long quiet spell is seen within that longer period, and at `reads` once seen.
  void reuse_rollup_for(int reads) { rollup_reads_ = reads < 1 ? 1 : reads; }
  static constexpr int kRollupStretch = 6;
  // Closes the files of every process not read since the previous call.
  void close_unused();
  size_t open_processes() const { return open_.size(); }
  // smaps_rollup files read so far (each a walk of the process's page tables by the kernel).
  uint64_t rollups_read() const { return rollups_read_; }

  // Whether the last read fell back to status/statm (smaps_rollup unreadable: kernel before 4.14,
  // no ptrace read permission), and why. Callers log this once.
  bool last_read_fell_back() const { return fell_back_; }
  const std::string& fallback_reason() const { return fallback_reason_; }

 private:
  struct Held {
    OpenedProcess process;
    bool used = true;
    std::optional<MemorySample> rollup;  // the last one read, with the statm it was read at
    Statm rollup_statm;
    int rollup_reads = 0;   // reads since
    int rollup_period = 0;  // reads between refreshes while statm holds still; 0: rollup_reads_
  };
  // `parent` nonzero: the process must be its child (a tree member), checked when first opened.
  Result<MemorySample> read_one(pid_t pid, uint64_t expected_start_ticks, pid_t parent,
                                MemorySource source, std::vector<pid_t>* children);
  Result<MemorySample> read_memory(OpenedProcess& process, MemorySource source, Held* held);
  Result<MemorySample> read_rollup(OpenedProcess& process);
  Result<MemorySample> read_fallback(OpenedProcess& process, MemorySource source);

  std::string proc_root_;
  long page_size_;
  bool keep_open_ = false;
  size_t max_open_ = 0;
  int rollup_reads_ = 1;
  uint64_t rollups_read_ = 0;
  std::unordered_map<pid_t, Held> open_;
  std::string buffer_;  // reused by every read
  bool fell_back_ = false;
  std::string fallback_reason_;
};

// The host: proc_root/meminfo and proc_root/pressure/memory (Linux 4.20+ with PSI enabled).
Result<Meminfo> read_host_meminfo(const std::string& proc_root = kProcRoot);
Result<Psi> read_host_memory_pressure(const std::string& proc_root = kProcRoot);

}  // namespace memvisor
