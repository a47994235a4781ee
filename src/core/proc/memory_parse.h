// Pure parsers of the per-process and host memory files in /proc: smaps_rollup, status, statm and
// meminfo. Text in, bytes out; no syscalls. The readers live in os/memory_reader.h.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace memvisor {

// /proc/PID/smaps_rollup (Linux 4.14+), in bytes (the kernel prints kB).
struct SmapsRollup {
  uint64_t rss = 0;
  uint64_t pss = 0;
  uint64_t pss_anon = 0;  // Pss_Anon/File/Shmem: Linux 5.9+, see has_pss_breakdown
  uint64_t pss_file = 0;
  uint64_t pss_shmem = 0;
  uint64_t shared_clean = 0;
  uint64_t shared_dirty = 0;
  uint64_t private_clean = 0;
  uint64_t private_dirty = 0;
  uint64_t referenced = 0;
  uint64_t anonymous = 0;
  uint64_t swap = 0;
  uint64_t swap_pss = 0;
  bool has_pss_breakdown = false;  // the kernel printed Pss_Anon, Pss_File and Pss_Shmem

  // Unique set size: the pages only this process maps, what killing it would free.
  uint64_t uss() const { return private_clean + private_dirty; }
};

// Rss, Pss, Shared_* and Private_* are required; the others read as 0 when absent. A known key
// with a malformed value makes the whole text malformed.
std::optional<SmapsRollup> parse_smaps_rollup(std::string_view text);

// /proc/PID/status: the fallback when smaps_rollup cannot be read, plus Name and PPid.
struct ProcStatus {
  std::string name;  // as the kernel escapes it ('\n' → "\\n")
  pid_t ppid = 0;
  uint64_t vm_rss = 0;  // bytes
  uint64_t rss_anon = 0;
  uint64_t rss_file = 0;
  uint64_t rss_shmem = 0;
  uint64_t vm_swap = 0;
  uint64_t vm_hwm = 0;  // peak RSS
  uint64_t vm_size = 0;
  uint32_t threads = 0;
};

// Name, PPid and VmRSS are required: kernel threads and zombies have no Vm* lines and read as
// nullopt, like malformed text.
std::optional<ProcStatus> parse_proc_status(std::string_view text);

// /proc/PID/statm: the first three fields, converted from pages to bytes.
struct Statm {
  uint64_t size = 0;      // virtual size
  uint64_t resident = 0;  // RSS
  uint64_t shared = 0;    // resident file-backed and shmem pages (RssFile + RssShmem)
};

std::optional<Statm> parse_statm(std::string_view text, long page_size);

// /proc/meminfo, the host's totals in bytes. All fields are required (MemAvailable: Linux 3.14+).
struct Meminfo {
  uint64_t mem_total = 0;
  uint64_t mem_free = 0;
  uint64_t mem_available = 0;
  uint64_t swap_total = 0;
  uint64_t swap_free = 0;
};

std::optional<Meminfo> parse_meminfo(std::string_view text);

}  // namespace memvisor
