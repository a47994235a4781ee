#include "os/process_usage.h"

#include <time.h>
#include <unistd.h>

#include <charconv>
#include <cmath>

#include "os/files.h"
#include "os/proc.h"

namespace memvisor {
namespace {

bool to_number(std::string_view text, double& out) {
  uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size()) return false;
  out = static_cast<double>(value);
  return true;
}

}  // namespace

std::optional<ProcessUsage> parse_process_usage(std::string_view stat_text,
                                                const ProcessClock& clock,
                                                std::string process_label) {
  const auto stat = parse_proc_stat(stat_text);
  if (!stat) return std::nullopt;
  ProcessUsage usage;
  usage.process = std::move(process_label);
  usage.cpu_seconds =
      static_cast<double>(stat->utime_ticks + stat->stime_ticks) / clock.ticks_per_second;
  usage.start_time_seconds = clock.started_at(stat->start_time_ticks);
  usage.resident_bytes = static_cast<double>(stat->rss_pages) * clock.page_size;
  return usage;
}

std::optional<double> parse_boot_time(std::string_view text) {
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    std::string_view line = text.substr(at, end - at);
    if (line.rfind("btime ", 0) == 0) {
      double value = 0;
      if (to_number(line.substr(6), value)) return value;
      return std::nullopt;
    }
    at = end + 1;
  }
  return std::nullopt;
}

Result<ProcessClock> read_process_clock(const std::string& proc_root) {
  auto text = read_file(proc_root + "/stat");
  if (!text) return text.error();
  auto boot = parse_boot_time(*text);
  if (!boot) return Error{"parse " + proc_root + "/stat: no btime line"};
  ProcessClock clock;
  clock.boot_time_s = *boot;
  // btime is the same difference of clocks the kernel takes at the read, cut to whole seconds:
  // taken here to the nanosecond, a start time is exact (a process's age from btime was up to a
  // second short). Only for this machine's /proc, not a test's.
  timespec wall{}, since_boot{};
  if (proc_root == kProcRoot && ::clock_gettime(CLOCK_REALTIME, &wall) == 0 &&
      ::clock_gettime(CLOCK_BOOTTIME, &since_boot) == 0) {
    const double exact = static_cast<double>(wall.tv_sec - since_boot.tv_sec) +
                         static_cast<double>(wall.tv_nsec - since_boot.tv_nsec) / 1e9;
    if (std::abs(exact - *boot) < 2) clock.boot_time_s = exact;
  }
  const long ticks = ::sysconf(_SC_CLK_TCK);
  const long page = ::sysconf(_SC_PAGESIZE);
  if (ticks > 0) clock.ticks_per_second = static_cast<double>(ticks);
  if (page > 0) clock.page_size = static_cast<double>(page);
  return clock;
}

Result<ProcessUsage> read_process_usage(pid_t pid, const ProcessClock& clock,
                                        std::string process_label, const std::string& proc_root) {
  const std::string path = proc_root + "/" + std::to_string(pid) + "/stat";
  auto text = read_file(path);
  if (!text) return text.error();
  auto usage = parse_process_usage(*text, clock, std::move(process_label));
  if (!usage) return Error{"parse " + path};
  return *usage;
}

}  // namespace memvisor
