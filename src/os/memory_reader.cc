// /proc memory readers: smaps_rollup first, status then statm when it cannot be read; identity by
// start time; trees walked through child_pids.
#include "os/memory_reader.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <set>
#include <utility>
#include <vector>

#include "os/files.h"

namespace memvisor {
namespace {

void add(MemorySample& total, const MemorySample& one) {
  total.rss += one.rss;
  total.pss += one.pss;
  total.uss += one.uss;
  total.swap += one.swap;
  total.anon += one.anon;
  total.file += one.file;
  total.shmem += one.shmem;
  total.from_rollup = total.from_rollup && one.from_rollup;
  total.processes += one.processes;
}

bool is_gone(const Error& error) {
  return error.errnum == ENOENT || error.errnum == ESRCH;
}

Error gone(pid_t pid) {
  return Error{"read memory of pid " + std::to_string(pid), ESRCH};
}

MemorySample from_status(const ProcStatus& status) {
  MemorySample sample;
  sample.rss = status.vm_rss;
  sample.pss = status.vm_rss;
  sample.uss = status.rss_anon;  // counts copy-on-write pages still shared with a fork parent
  sample.swap = status.vm_swap;
  sample.anon = status.rss_anon;
  sample.file = status.rss_file;
  sample.shmem = status.rss_shmem;
  sample.from_rollup = false;
  sample.processes = 1;
  return sample;
}

MemorySample from_statm(const Statm& statm) {
  MemorySample sample;
  sample.rss = statm.resident;
  sample.pss = statm.resident;
  // statm cannot tell file pages from shmem: "shared" is both.
  sample.file = std::min(statm.shared, statm.resident);
  sample.anon = statm.resident - sample.file;
  sample.uss = sample.anon;
  sample.from_rollup = false;
  sample.processes = 1;
  return sample;
}

}  // namespace

ProcMemoryReader::ProcMemoryReader(std::string proc_root, long page_size)
    : proc_root_(std::move(proc_root)),
      page_size_(page_size > 0 ? page_size : ::sysconf(_SC_PAGESIZE)) {}

std::string ProcMemoryReader::pid_path(pid_t pid, const char* file) const {
  return proc_root_ + "/" + std::to_string(pid) + "/" + file;
}

Result<MemorySample> ProcMemoryReader::read_process(pid_t pid, uint64_t expected_start_ticks) {
  fell_back_ = false;
  fallback_reason_.clear();
  auto reading = read_one(pid, expected_start_ticks);
  if (!reading) return reading.error();
  return reading->sample;
}

Result<MemorySample> ProcMemoryReader::read_tree(pid_t pid, uint64_t expected_start_ticks) {
  fell_back_ = false;
  fallback_reason_.clear();
  auto root = read_one(pid, expected_start_ticks);
  if (!root) return root.error();
  MemorySample total = root->sample;
  // `seen` also ends a ppid cycle, which a fake or racing proc root could present.
  std::set<pid_t> seen{pid};
  std::vector<pid_t> parents{pid};
  while (!parents.empty()) {
    const pid_t parent = parents.back();
    parents.pop_back();
    for (const pid_t child : child_pids(parent, proc_root_)) {
      if (!seen.insert(child).second) continue;
      auto reading = read_one(child, 0);
      // Exited since the scan, or its pid already reused by a process outside the tree.
      if (!reading || reading->stat.ppid != parent) continue;
      add(total, reading->sample);
      parents.push_back(child);
    }
  }
  return total;
}

Result<ProcMemoryReader::ProcessReading> ProcMemoryReader::read_one(pid_t pid,
                                                                    uint64_t expected_start_ticks) {
  auto sample = read_memory(pid);
  if (!sample) return sample.error();
  // Stat is read after the memory: if the start time still matches, the pid belonged to the
  // expected process for the whole read (a reused pid always has a later start time).
  auto stat = read_proc_stat(pid, proc_root_);
  if (!stat) return is_gone(stat.error()) ? gone(pid) : stat.error();
  if (expected_start_ticks != 0 && stat->start_time_ticks != expected_start_ticks) {
    return Error{"read memory of pid " + std::to_string(pid) + ": now another process (start " +
                     std::to_string(stat->start_time_ticks) + ", expected " +
                     std::to_string(expected_start_ticks) + ")",
                 ESRCH};
  }
  return ProcessReading{*sample, *stat};
}

Result<MemorySample> ProcMemoryReader::read_memory(pid_t pid) {
  const std::string path = pid_path(pid, "smaps_rollup");
  auto text = read_file(path);
  // Without an address space (a zombie, a process in exit, a kernel thread) the kernel fails the
  // read with ESRCH while the pid directory stays: such a process holds no memory.
  const bool no_mm = text ? text->empty() : text.error().errnum == ESRCH;
  if (no_mm || (!text && text.error().errnum == ENOENT)) {
    if (::access(pid_path(pid, "").c_str(), F_OK) != 0) return gone(pid);
  }
  if (no_mm) {
    MemorySample none;
    none.processes = 1;
    return none;
  }
  std::optional<SmapsRollup> rollup;
  if (text) rollup = parse_smaps_rollup(*text);
  if (!rollup) {
    fell_back_ = true;
    fallback_reason_ = text ? "parse " + path : text.error().describe();
    return read_fallback(pid);
  }

  MemorySample sample;
  sample.rss = rollup->rss;
  sample.pss = rollup->pss;
  sample.uss = rollup->uss();
  sample.swap = rollup->swap;
  sample.processes = 1;
  if (rollup->has_pss_breakdown) {
    sample.anon = rollup->pss_anon;
    sample.file = rollup->pss_file;
    sample.shmem = rollup->pss_shmem;
  } else if (auto status_text = read_file(pid_path(pid, "status"))) {
    if (auto status = parse_proc_status(*status_text)) {
      sample.anon = status->rss_anon;
      sample.file = status->rss_file;
      sample.shmem = status->rss_shmem;
    }
  }
  return sample;
}

Result<MemorySample> ProcMemoryReader::read_fallback(pid_t pid) {
  const std::string status_path = pid_path(pid, "status");
  auto status_text = read_file(status_path);
  if (!status_text) return is_gone(status_text.error()) ? gone(pid) : status_text.error();
  if (auto status = parse_proc_status(*status_text)) return from_status(*status);

  const std::string statm_path = pid_path(pid, "statm");
  auto statm_text = read_file(statm_path);
  if (!statm_text) return is_gone(statm_text.error()) ? gone(pid) : statm_text.error();
  if (auto statm = parse_statm(*statm_text, page_size_)) return from_statm(*statm);
  return Error{"parse " + status_path + " and " + statm_path, 0};
}

Result<Meminfo> read_host_meminfo(const std::string& proc_root) {
  const std::string path = proc_root + "/meminfo";
  auto text = read_file(path);
  if (!text) return text.error();
  auto info = parse_meminfo(*text);
  if (!info) return Error{"parse " + path, 0};
  return *info;
}

Result<Psi> read_host_memory_pressure(const std::string& proc_root) {
  const std::string path = proc_root + "/pressure/memory";
  auto text = read_file(path);
  if (!text) return text.error();
  auto psi = parse_psi(*text);
  if (!psi) return Error{"parse " + path, 0};
  return *psi;
}

}  // namespace memvisor
