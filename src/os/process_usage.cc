#include "os/process_usage.h"

#include <unistd.h>

#include <charconv>
#include <vector>

#include "os/files.h"

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
  // comm may hold spaces and ')', so the numbered fields start after the last ')'.
  const size_t close = stat_text.rfind(')');
  if (close == std::string_view::npos) return std::nullopt;
  std::vector<std::string_view> fields;  // fields[0] is field 3 (state)
  std::string_view rest = stat_text.substr(close + 1);
  while (!rest.empty()) {
    const size_t start = rest.find_first_not_of(" \n");
    if (start == std::string_view::npos) break;
    rest.remove_prefix(start);
    const size_t end = std::min(rest.find_first_of(" \n"), rest.size());
    fields.push_back(rest.substr(0, end));
    rest.remove_prefix(end);
  }
  auto field = [&](size_t number) { return fields[number - 3]; };
  if (fields.size() < 24 - 2) return std::nullopt;
  double utime = 0, stime = 0, start = 0, rss_pages = 0;
  if (!to_number(field(14), utime) || !to_number(field(15), stime) ||
      !to_number(field(22), start) || !to_number(field(24), rss_pages)) {
    return std::nullopt;
  }
  ProcessUsage usage;
  usage.process = std::move(process_label);
  usage.cpu_seconds = (utime + stime) / clock.ticks_per_second;
  usage.start_time_seconds = clock.boot_time_s + start / clock.ticks_per_second;
  usage.resident_bytes = rss_pages * clock.page_size;
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
