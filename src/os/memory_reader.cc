// /proc memory readers: smaps_rollup first, status then statm when it cannot be read; identity by
// start time; trees walked through the children files. Held files make a sample one pread.
#include "os/memory_reader.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
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

Error with_pid(pid_t pid, const Error& error) {
  return Error{"read memory of pid " + std::to_string(pid) + ": " + error.message, error.errnum};
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

MemorySample from_rollup(const SmapsRollup& rollup) {
  MemorySample sample;
  sample.rss = rollup.rss;
  sample.pss = rollup.pss;
  sample.uss = rollup.uss();
  sample.swap = rollup.swap;
  sample.anon = rollup.pss_anon;
  sample.file = rollup.pss_file;
  sample.shmem = rollup.pss_shmem;
  sample.processes = 1;
  return sample;
}

// Up to four fds per held process; a margin stays for everything else the process opens.
size_t open_budget() {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return 4096;
  return limit.rlim_cur > 256 ? static_cast<size_t>(limit.rlim_cur - 256) / 4 : 0;
}

}  // namespace

ProcMemoryReader::ProcMemoryReader(std::string proc_root, long page_size)
    : proc_root_(std::move(proc_root)),
      page_size_(page_size > 0 ? page_size : ::sysconf(_SC_PAGESIZE)) {}

void ProcMemoryReader::keep_files_open(bool keep) {
  keep_open_ = keep;
  max_open_ = keep ? open_budget() : 0;
  if (!keep) open_.clear();
}

void ProcMemoryReader::close_unused() {
  std::erase_if(open_, [](const auto& entry) { return !entry.second.used; });
  for (auto& entry : open_) entry.second.used = false;
}

Result<MemorySample> ProcMemoryReader::read_process(pid_t pid, uint64_t expected_start_ticks,
                                                    MemorySource source) {
  fell_back_ = false;
  fallback_reason_.clear();
  return read_one(pid, expected_start_ticks, 0, source, nullptr);
}

Result<MemorySample> ProcMemoryReader::read_tree(pid_t pid, uint64_t expected_start_ticks,
                                                 MemorySource source) {
  fell_back_ = false;
  fallback_reason_.clear();
  std::vector<pid_t> children;
  auto root = read_one(pid, expected_start_ticks, 0, source, &children);
  if (!root) return root.error();
  MemorySample total = *root;
  // `seen` also ends a ppid cycle, which a fake or racing proc root could present.
  std::vector<pid_t> seen{pid};
  std::vector<std::pair<pid_t, std::vector<pid_t>>> parents{{pid, std::move(children)}};
  while (!parents.empty()) {
    auto [parent, of_parent] = std::move(parents.back());
    parents.pop_back();
    for (const pid_t child : of_parent) {
      if (std::find(seen.begin(), seen.end(), child) != seen.end()) continue;
      seen.push_back(child);
      std::vector<pid_t> grandchildren;
      // Exited since the listing, or its pid already reused by a process outside the tree.
      auto reading = read_one(child, 0, parent, source, &grandchildren);
      if (!reading) continue;
      add(total, *reading);
      parents.emplace_back(child, std::move(grandchildren));
    }
  }
  return total;
}

Result<MemorySample> ProcMemoryReader::read_one(pid_t pid, uint64_t expected_start_ticks,
                                                pid_t parent, MemorySource source,
                                                std::vector<pid_t>* children) {
  auto held = open_.find(pid);
  // A held process is alive, so it still owns its pid: only a caller that knows of a newer
  // process with this pid (another start time) makes it stale.
  if (held != open_.end() && expected_start_ticks != 0 &&
      held->second.process.stat().start_time_ticks != expected_start_ticks) {
    open_.erase(held);
    held = open_.end();
  }
  OpenedProcess opened_now;
  OpenedProcess* process = nullptr;
  Held* kept = nullptr;
  if (held != open_.end()) {
    held->second.used = true;
    kept = &held->second;
    process = &kept->process;
  } else {
    auto opened = OpenedProcess::open(proc_root_, pid);
    if (!opened) return is_gone(opened.error()) ? gone(pid) : with_pid(pid, opened.error());
    const ProcStat& stat = opened->stat();
    if (expected_start_ticks != 0 && stat.start_time_ticks != expected_start_ticks) {
      return Error{"read memory of pid " + std::to_string(pid) + ": now another process (start " +
                       std::to_string(stat.start_time_ticks) + ", expected " +
                       std::to_string(expected_start_ticks) + ")",
                   ESRCH};
    }
    if (parent != 0 && stat.ppid != parent) return gone(pid);
    if (keep_open_ && open_.size() < max_open_) {
      kept = &open_.emplace(pid, Held{std::move(*opened), true, std::nullopt, Statm{}, 0})
                  .first->second;
      process = &kept->process;
    } else {
      opened_now = std::move(*opened);
      process = &opened_now;
    }
  }
  auto sample = read_memory(*process, source, kept);
  if (!sample) {
    if (is_gone(sample.error())) {
      open_.erase(pid);
      return gone(pid);
    }
    return with_pid(pid, sample.error());
  }
  if (children != nullptr) {
    auto listed = process->children();
    *children = listed ? std::move(*listed) : child_pids(pid, proc_root_);
  }
  return sample;
}

Result<MemorySample> ProcMemoryReader::read_memory(OpenedProcess& process, MemorySource source,
                                                   Held* held) {
  if (source != MemorySource::rollup) return read_fallback(process, source);
  if (held == nullptr || rollup_reads_ <= 1) return read_rollup(process);
  std::optional<Statm> statm;
  if (process.read(MemorySource::statm, buffer_)) statm = parse_statm(buffer_, page_size_);
  const bool statm_still = statm && held->rollup &&
                           statm->resident == held->rollup_statm.resident &&
                           statm->shared == held->rollup_statm.shared;
  const int period = held->rollup_period > 0 ? held->rollup_period : rollup_reads_;
  if (statm_still && held->rollup_reads + 1 < period) {
    ++held->rollup_reads;
    return *held->rollup;
  }
  auto sample = read_rollup(process);
  const std::optional<MemorySample> previous = std::exchange(held->rollup, std::nullopt);
  // Only a real rollup stands in for the next reads: not a fallback, not a process without memory.
  if (sample && statm && sample->from_rollup && !fell_back_ && sample->rss != 0) {
    const bool private_still =
        statm_still && previous && previous->uss == sample->uss && previous->swap == sample->swap;
    held->rollup_period =
        private_still ? std::min(period * 2, rollup_reads_ * kRollupStretch) : rollup_reads_;
    held->rollup = *sample;
    held->rollup_statm = *statm;
    held->rollup_reads = 0;
  }
  return sample;
}

Result<MemorySample> ProcMemoryReader::read_rollup(OpenedProcess& process) {
  ++rollups_read_;
  auto read = process.read(MemorySource::rollup, buffer_);
  // Without an address space (a zombie, a process in exit, a kernel thread) the kernel fails the
  // read with ESRCH while the pid directory stays: such a process holds no memory.
  const bool no_mm = read ? buffer_.empty() : read.error().errnum == ESRCH;
  if (no_mm || (!read && read.error().errnum == ENOENT)) {
    if (!process.alive()) return gone(process.pid());
  }
  if (no_mm) {
    MemorySample none;
    none.processes = 1;
    return none;
  }
  std::optional<SmapsRollup> rollup;
  if (read) rollup = parse_smaps_rollup(buffer_);
  if (!rollup) {
    fell_back_ = true;
    fallback_reason_ =
        read ? "parse " + proc_root_ + "/" + std::to_string(process.pid()) + "/smaps_rollup"
             : read.error().describe();
    return read_fallback(process, MemorySource::status);
  }
  MemorySample sample = from_rollup(*rollup);
  if (!rollup->has_pss_breakdown) {
    // Before Linux 5.9: what rss is made of, from status.
    if (process.read(MemorySource::status, buffer_)) {
      if (auto status = parse_proc_status(buffer_)) {
        sample.anon = status->rss_anon;
        sample.file = status->rss_file;
        sample.shmem = status->rss_shmem;
      }
    }
  }
  return sample;
}

Result<MemorySample> ProcMemoryReader::read_fallback(OpenedProcess& process, MemorySource source) {
  if (source == MemorySource::status) {
    auto read = process.read(MemorySource::status, buffer_);
    if (!read) return is_gone(read.error()) ? gone(process.pid()) : read.error();
    if (auto status = parse_proc_status(buffer_)) return from_status(*status);
  }
  // A zombie's status has no Vm lines; statm reads as zeros.
  auto read = process.read(MemorySource::statm, buffer_);
  if (!read) return is_gone(read.error()) ? gone(process.pid()) : read.error();
  if (auto statm = parse_statm(buffer_, page_size_)) return from_statm(*statm);
  return Error{"parse status and statm", 0};
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
