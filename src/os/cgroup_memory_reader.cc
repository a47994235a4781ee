// cgroup memory readers: the version is detected once, each read maps that version's files onto
// one CgroupMemorySample. Files a kernel may lack are optional; a malformed file is an error.
#include "os/cgroup_memory_reader.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <utility>

#include "os/files.h"

namespace memvisor {
namespace {

bool lists_memory(const std::string& controllers_path) {
  auto text = read_file(controllers_path);
  return text && lists_controller(*text, "memory");
}

template <class Parse>
auto read_required(const std::string& path, Parse parse)
    -> Result<typename decltype(parse(std::string_view{}))::value_type> {
  auto text = read_file(path);
  if (!text) return text.error();
  auto parsed = parse(*text);
  if (!parsed) return Error{"parse " + path, 0};
  return *parsed;
}

// nullopt when the file does not exist (the root cgroup, an older kernel, no swap accounting).
template <class Parse>
auto read_optional(const std::string& path, Parse parse)
    -> Result<std::optional<typename decltype(parse(std::string_view{}))::value_type>> {
  using Value = typename decltype(parse(std::string_view{}))::value_type;
  if (::access(path.c_str(), F_OK) != 0 && errno == ENOENT) return std::optional<Value>();
  auto value = read_required(path, parse);
  if (!value) return value.error();
  return std::optional<Value>(std::move(*value));
}

bool escapes_hierarchy(std::string_view path) {
  while (!path.empty()) {
    const size_t slash = std::min(path.find('/'), path.size());
    if (path.substr(0, slash) == "..") return true;
    path.remove_prefix(std::min(slash + 1, path.size()));
  }
  return false;
}

}  // namespace

CgroupMemoryReader::CgroupMemoryReader(CgroupVersion version, std::string hierarchy,
                                       std::string proc_root)
    : version_(version), hierarchy_(std::move(hierarchy)), proc_root_(std::move(proc_root)) {}

Result<CgroupMemoryReader> CgroupMemoryReader::detect(std::string cgroup_root,
                                                      std::string proc_root) {
  if (lists_memory(cgroup_root + "/cgroup.controllers")) {
    return CgroupMemoryReader(CgroupVersion::kV2, cgroup_root, std::move(proc_root));
  }
  // A hybrid host mounts v2 at unified/; the memory controller is there only if v1 lacks it.
  if (lists_memory(cgroup_root + "/unified/cgroup.controllers")) {
    return CgroupMemoryReader(CgroupVersion::kV2, cgroup_root + "/unified", std::move(proc_root));
  }
  if (::access((cgroup_root + "/memory/memory.usage_in_bytes").c_str(), F_OK) == 0) {
    return CgroupMemoryReader(CgroupVersion::kV1, cgroup_root + "/memory", std::move(proc_root));
  }
  return Error{"find a cgroup memory controller under " + cgroup_root, ENOENT};
}

Result<std::string> CgroupMemoryReader::cgroup_of(pid_t pid) const {
  const std::string path = proc_root_ + "/" + std::to_string(pid) + "/cgroup";
  auto cgroup = read_required(path, parse_proc_cgroup);
  if (!cgroup) return cgroup.error();
  const auto& found = version_ == CgroupVersion::kV2 ? cgroup->v2_path : cgroup->v1_memory_path;
  if (!found) {
    return Error{"find the memory cgroup of pid " + std::to_string(pid) + " in " + path, ENOENT};
  }
  return *found;
}

Result<CgroupMemorySample> CgroupMemoryReader::read(const std::string& cgroup_path) const {
  if (escapes_hierarchy(cgroup_path)) return Error{"read cgroup " + cgroup_path, EINVAL};
  std::string dir = hierarchy_;
  if (!cgroup_path.empty() && cgroup_path.front() != '/') dir += '/';
  dir += cgroup_path;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  CgroupMemorySample sample;
  const Status status =
      version_ == CgroupVersion::kV2 ? read_v2(dir, sample) : read_v1(dir, sample);
  if (!status) return status.error();
  return sample;
}

Result<Psi> CgroupMemoryReader::read_host_pressure() const {
  return read_required(proc_root_ + "/pressure/memory", parse_psi);
}

Status CgroupMemoryReader::read_v2(const std::string& dir, CgroupMemorySample& sample) const {
  auto current = read_required(dir + "/memory.current", parse_cgroup_number);
  if (!current) return current.error();
  auto stat = read_required(dir + "/memory.stat", parse_cgroup_v2_memory_stat);
  if (!stat) return stat.error();
  auto limit = read_optional(dir + "/memory.max", parse_cgroup_limit);
  if (!limit) return limit.error();
  auto swap = read_optional(dir + "/memory.swap.current", parse_cgroup_number);
  if (!swap) return swap.error();
  auto events = read_optional(dir + "/memory.events", parse_cgroup_memory_events);
  if (!events) return events.error();
  auto pressure = read_optional(dir + "/memory.pressure", parse_psi);
  if (!pressure) return pressure.error();

  sample.current = *current;
  sample.limit = limit->value_or(kNoMemoryLimit);
  sample.anon = stat->anon;
  sample.file = stat->file;
  sample.shmem = stat->shmem;
  sample.swap = swap->value_or(0);
  sample.events = events->value_or(CgroupMemoryEvents{});
  sample.pressure = *pressure;
  return {};
}

Status CgroupMemoryReader::read_v1(const std::string& dir, CgroupMemorySample& sample) const {
  auto usage = read_required(dir + "/memory.usage_in_bytes", parse_cgroup_number);
  if (!usage) return usage.error();
  auto stat = read_required(dir + "/memory.stat", parse_cgroup_v1_memory_stat);
  if (!stat) return stat.error();
  auto limit = read_optional(dir + "/memory.limit_in_bytes", parse_cgroup_limit);
  if (!limit) return limit.error();
  auto failcnt = read_optional(dir + "/memory.failcnt", parse_cgroup_number);
  if (!failcnt) return failcnt.error();
  auto oom = read_optional(dir + "/memory.oom_control", parse_cgroup_v1_oom_control);
  if (!oom) return oom.error();

  // usage_in_bytes counts the subtree, so the breakdown does too: the total_* fields (present
  // since memory.use_hierarchy exists), the local ones only as a fallback.
  const bool totals = stat->values.contains("total_rss");
  sample.current = *usage;
  sample.limit = limit->value_or(kNoMemoryLimit);
  sample.anon = totals ? stat->total_rss : stat->rss;
  sample.file = totals ? stat->total_cache : stat->cache;
  sample.shmem = totals ? stat->total_shmem : stat->shmem;
  sample.swap = totals ? stat->total_swap : stat->swap;
  sample.events.max = failcnt->value_or(0);
  sample.events.oom_kill = oom->has_value() ? (*oom)->oom_kill : 0;
  return {};
}

}  // namespace memvisor
