// Parsers of /proc memory files. Each is a table of the keys it knows: unknown keys are skipped,
// a known key with a malformed value or a missing required key makes the text malformed.
#include "core/proc/memory_parse.h"

#include <algorithm>
#include <array>
#include <cstddef>

#include "core/proc/memory_parse_text.h"

namespace memvisor {
namespace {

using memory_text::for_each_colon_field;
using memory_text::parse_kb;
using memory_text::parse_number;
using memory_text::trim;

template <class T>
struct KbField {
  std::string_view key;
  uint64_t T::*member;
  bool required;
};

// Fills every field of `table` found in a "Key: N kB" text and says which were found; nullopt when
// malformed. `other(key, value)` sees the keys the table does not know and returns false for a
// malformed value.
template <class T, size_t N, class Other>
std::optional<std::array<bool, N>> parse_kb_fields(std::string_view text,
                                                   const std::array<KbField<T>, N>& table, T& out,
                                                   Other&& other) {
  std::array<bool, N> seen{};
  bool ok = true;
  for_each_colon_field(text, [&](std::string_view key, std::string_view value) {
    if (!ok) return;
    for (size_t i = 0; i < N; ++i) {
      if (table[i].key != key) continue;
      const auto bytes = parse_kb(value);
      if (!bytes) {
        ok = false;
        return;
      }
      out.*(table[i].member) = *bytes;
      seen[i] = true;
      return;
    }
    ok = other(key, value);
  });
  for (size_t i = 0; i < N && ok; ++i) ok = seen[i] || !table[i].required;
  if (!ok) return std::nullopt;
  return seen;
}

bool ignore_other(std::string_view, std::string_view) {
  return true;
}

constexpr std::array<KbField<SmapsRollup>, 13> kSmapsFields{{
    {"Rss", &SmapsRollup::rss, true},
    {"Pss", &SmapsRollup::pss, true},
    {"Pss_Anon", &SmapsRollup::pss_anon, false},
    {"Pss_File", &SmapsRollup::pss_file, false},
    {"Pss_Shmem", &SmapsRollup::pss_shmem, false},
    {"Shared_Clean", &SmapsRollup::shared_clean, true},
    {"Shared_Dirty", &SmapsRollup::shared_dirty, true},
    {"Private_Clean", &SmapsRollup::private_clean, true},
    {"Private_Dirty", &SmapsRollup::private_dirty, true},
    {"Referenced", &SmapsRollup::referenced, false},
    {"Anonymous", &SmapsRollup::anonymous, false},
    {"Swap", &SmapsRollup::swap, false},
    {"SwapPss", &SmapsRollup::swap_pss, false},
}};

constexpr std::array<KbField<ProcStatus>, 7> kStatusFields{{
    {"VmRSS", &ProcStatus::vm_rss, true},
    {"RssAnon", &ProcStatus::rss_anon, false},
    {"RssFile", &ProcStatus::rss_file, false},
    {"RssShmem", &ProcStatus::rss_shmem, false},
    {"VmSwap", &ProcStatus::vm_swap, false},
    {"VmHWM", &ProcStatus::vm_hwm, false},
    {"VmSize", &ProcStatus::vm_size, false},
}};

constexpr std::array<KbField<Meminfo>, 5> kMeminfoFields{{
    {"MemTotal", &Meminfo::mem_total, true},
    {"MemFree", &Meminfo::mem_free, true},
    {"MemAvailable", &Meminfo::mem_available, true},
    {"SwapTotal", &Meminfo::swap_total, true},
    {"SwapFree", &Meminfo::swap_free, true},
}};

}  // namespace

std::optional<SmapsRollup> parse_smaps_rollup(std::string_view text) {
  SmapsRollup rollup;
  const auto seen = parse_kb_fields(text, kSmapsFields, rollup, ignore_other);
  if (!seen) return std::nullopt;
  rollup.has_pss_breakdown = (*seen)[2] && (*seen)[3] && (*seen)[4];  // Pss_Anon, _File, _Shmem
  return rollup;
}

std::optional<ProcStatus> parse_proc_status(std::string_view text) {
  ProcStatus status;
  bool has_name = false;
  bool has_ppid = false;
  auto other = [&](std::string_view key, std::string_view value) {
    if (key == "Name") {
      status.name = std::string(value);
      has_name = true;
    } else if (key == "PPid") {
      const auto ppid = parse_number<pid_t>(value);
      if (!ppid) return false;
      status.ppid = *ppid;
      has_ppid = true;
    } else if (key == "Threads") {
      const auto threads = parse_number<uint32_t>(value);
      if (!threads) return false;
      status.threads = *threads;
    }
    return true;
  };
  if (!parse_kb_fields(text, kStatusFields, status, other) || !has_name || !has_ppid) {
    return std::nullopt;
  }
  return status;
}

std::optional<Statm> parse_statm(std::string_view text, long page_size) {
  if (page_size <= 0) return std::nullopt;
  const auto page = static_cast<uint64_t>(page_size);
  std::array<uint64_t, 3> pages{};
  text = trim(text);
  for (uint64_t& field : pages) {
    const size_t end = std::min(text.find(' '), text.size());
    const auto value = parse_number<uint64_t>(text.substr(0, end));
    if (!value || *value > UINT64_MAX / page) return std::nullopt;
    field = *value * page;
    text = trim(text.substr(end));
  }
  return Statm{pages[0], pages[1], pages[2]};
}

std::optional<Meminfo> parse_meminfo(std::string_view text) {
  Meminfo info;
  if (!parse_kb_fields(text, kMeminfoFields, info, ignore_other)) return std::nullopt;
  return info;
}

}  // namespace memvisor
