// Parsers of cgroup memory files, PSI and /proc/PID/cgroup. The flat-keyed files share one
// generic parser; the named fields are looked up in its map.
#include "core/proc/memory_parse_cgroup.h"

#include <algorithm>

#include "core/proc/memory_parse_text.h"

namespace memvisor {
namespace {

using memory_text::for_each_line;
using memory_text::parse_flat_keyed;
using memory_text::parse_number;
using memory_text::parse_u64;
using memory_text::take;
using memory_text::trim;

// Looks up optional keys: absent ones keep their 0.
void take_optional(const CgroupStatValues& values, std::string_view key, uint64_t& out) {
  (void)take(values, key, out);
}

// "avg10=0.00 avg60=0.00 avg300=0.00 total=0" after the "some"/"full" word.
std::optional<PsiLine> parse_psi_fields(std::string_view fields) {
  PsiLine line;
  bool has_avg10 = false;
  bool has_avg60 = false;
  bool has_avg300 = false;
  bool has_total = false;
  while (!(fields = trim(fields)).empty()) {
    const size_t end = std::min(fields.find(' '), fields.size());
    const std::string_view field = fields.substr(0, end);
    fields.remove_prefix(end);
    const size_t eq = field.find('=');
    if (eq == std::string_view::npos) return std::nullopt;
    const std::string_view key = field.substr(0, eq);
    const std::string_view value = field.substr(eq + 1);
    auto average = [&value](double& out, bool& seen) {
      const auto parsed = parse_number<double>(value);
      if (!parsed || *parsed < 0) return false;
      out = *parsed;
      seen = true;
      return true;
    };
    bool ok = true;
    if (key == "avg10") {
      ok = average(line.avg10, has_avg10);
    } else if (key == "avg60") {
      ok = average(line.avg60, has_avg60);
    } else if (key == "avg300") {
      ok = average(line.avg300, has_avg300);
    } else if (key == "total") {
      const auto total = parse_u64(value);
      ok = total.has_value();
      line.total_us = total.value_or(0);
      has_total = ok;
    }
    if (!ok) return std::nullopt;
  }
  if (!has_avg10 || !has_avg60 || !has_avg300 || !has_total) return std::nullopt;
  return line;
}

}  // namespace

std::optional<uint64_t> parse_cgroup_number(std::string_view text) {
  return parse_u64(trim(text));
}

std::optional<uint64_t> parse_cgroup_limit(std::string_view text) {
  text = trim(text);
  if (text == "max") return kNoMemoryLimit;
  const auto value = parse_u64(text);
  if (!value) return std::nullopt;
  // No machine has 4 EiB of memory; v1 prints "unlimited" as a value just below 2^63.
  if (*value >= (uint64_t{1} << 62)) return kNoMemoryLimit;
  return value;
}

std::optional<CgroupV2MemoryStat> parse_cgroup_v2_memory_stat(std::string_view text) {
  CgroupV2MemoryStat stat;
  stat.values = parse_flat_keyed(text);
  const CgroupStatValues& v = stat.values;
  if (!take(v, "anon", stat.anon) || !take(v, "file", stat.file) || !take(v, "shmem", stat.shmem)) {
    return std::nullopt;
  }
  take_optional(v, "kernel", stat.kernel);
  take_optional(v, "kernel_stack", stat.kernel_stack);
  take_optional(v, "pagetables", stat.pagetables);
  take_optional(v, "sock", stat.sock);
  take_optional(v, "slab", stat.slab);
  take_optional(v, "file_mapped", stat.file_mapped);
  take_optional(v, "file_dirty", stat.file_dirty);
  take_optional(v, "anon_thp", stat.anon_thp);
  return stat;
}

std::optional<CgroupMemoryEvents> parse_cgroup_memory_events(std::string_view text) {
  const CgroupStatValues v = parse_flat_keyed(text);
  CgroupMemoryEvents events;
  if (!take(v, "low", events.low) || !take(v, "high", events.high) || !take(v, "max", events.max) ||
      !take(v, "oom", events.oom) || !take(v, "oom_kill", events.oom_kill)) {
    return std::nullopt;
  }
  take_optional(v, "oom_group_kill", events.oom_group_kill);
  return events;
}

std::optional<CgroupV1MemoryStat> parse_cgroup_v1_memory_stat(std::string_view text) {
  CgroupV1MemoryStat stat;
  stat.values = parse_flat_keyed(text);
  const CgroupStatValues& v = stat.values;
  if (!take(v, "cache", stat.cache) || !take(v, "rss", stat.rss)) return std::nullopt;
  take_optional(v, "rss_huge", stat.rss_huge);
  take_optional(v, "shmem", stat.shmem);
  take_optional(v, "mapped_file", stat.mapped_file);
  take_optional(v, "swap", stat.swap);
  take_optional(v, "total_cache", stat.total_cache);
  take_optional(v, "total_rss", stat.total_rss);
  take_optional(v, "total_rss_huge", stat.total_rss_huge);
  take_optional(v, "total_shmem", stat.total_shmem);
  take_optional(v, "total_mapped_file", stat.total_mapped_file);
  take_optional(v, "total_swap", stat.total_swap);
  take_optional(v, "hierarchical_memory_limit", stat.hierarchical_memory_limit);
  return stat;
}

std::optional<CgroupV1OomControl> parse_cgroup_v1_oom_control(std::string_view text) {
  const CgroupStatValues v = parse_flat_keyed(text);
  uint64_t disable = 0;
  uint64_t under = 0;
  CgroupV1OomControl control;
  if (!take(v, "oom_kill_disable", disable) || !take(v, "under_oom", under)) return std::nullopt;
  control.oom_kill_disable = disable != 0;
  control.under_oom = under != 0;
  take_optional(v, "oom_kill", control.oom_kill);
  return control;
}

std::optional<Psi> parse_psi(std::string_view text) {
  Psi psi;
  bool has_some = false;
  bool ok = true;
  for_each_line(text, [&](std::string_view line) {
    line = trim(line);
    const size_t space = std::min(line.find(' '), line.size());
    const std::string_view kind = line.substr(0, space);
    if (!ok || (kind != "some" && kind != "full")) return;
    const auto fields = parse_psi_fields(line.substr(space));
    if (!fields) {
      ok = false;
    } else if (kind == "some") {
      psi.some = *fields;
      has_some = true;
    } else {
      psi.full = *fields;
      psi.has_full = true;
    }
  });
  if (!ok || !has_some) return std::nullopt;
  return psi;
}

std::optional<ProcCgroup> parse_proc_cgroup(std::string_view text) {
  ProcCgroup cgroup;
  bool ok = true;
  for_each_line(text, [&](std::string_view line) {
    if (!ok || line.empty()) return;
    const size_t first = line.find(':');
    const size_t second = first == std::string_view::npos ? first : line.find(':', first + 1);
    if (second == std::string_view::npos || !parse_u64(line.substr(0, first))) {
      ok = false;
      return;
    }
    const std::string_view id = line.substr(0, first);
    std::string_view controllers = line.substr(first + 1, second - first - 1);
    const std::string path(line.substr(second + 1));
    if (id == "0" && controllers.empty()) {
      cgroup.v2_path = path;
      return;
    }
    while (!controllers.empty()) {
      const size_t comma = std::min(controllers.find(','), controllers.size());
      if (controllers.substr(0, comma) == "memory") cgroup.v1_memory_path = path;
      controllers.remove_prefix(std::min(comma + 1, controllers.size()));
    }
  });
  if (!ok) return std::nullopt;
  return cgroup;
}

bool lists_controller(std::string_view text, std::string_view controller) {
  while (!text.empty()) {
    const size_t start = text.find_first_not_of(" \n");
    if (start == std::string_view::npos) break;
    text.remove_prefix(start);
    const size_t end = std::min(text.find_first_of(" \n"), text.size());
    if (text.substr(0, end) == controller) return true;
    text.remove_prefix(end);
  }
  return false;
}

}  // namespace memvisor
