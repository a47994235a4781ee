// /proc readers: the stat parser is pure; the scans tolerate processes vanishing mid-scan.
#include "os/proc.h"

#include <dirent.h>

#include <algorithm>
#include <charconv>
#include <functional>
#include <memory>

#include "os/files.h"

namespace memvisor {
namespace {

template <class T>
bool parse_number(std::string_view text, T& out) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, out);
  return ec == std::errc() && ptr == end;
}

// Every pid under proc_root whose stat satisfies `match`.
std::vector<pid_t> scan(const std::string& proc_root,
                        const std::function<bool(const ProcStat&)>& match) {
  std::vector<pid_t> pids;
  std::unique_ptr<DIR, int (*)(DIR*)> dir(::opendir(proc_root.c_str()), ::closedir);
  if (!dir) return pids;
  while (const dirent* entry = ::readdir(dir.get())) {
    pid_t pid = 0;
    if (!parse_number(std::string_view(entry->d_name), pid)) continue;
    auto stat = read_proc_stat(pid, proc_root);
    if (stat && match(*stat)) pids.push_back(pid);  // a failed read is a process that exited
  }
  std::sort(pids.begin(), pids.end());
  return pids;
}

}  // namespace

std::optional<ProcStat> parse_proc_stat(std::string_view text) {
  // comm is whatever the process named itself, ')' and spaces included, so it ends at the last ')'.
  const size_t open = text.find('(');
  const size_t close = text.rfind(')');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) {
    return std::nullopt;
  }
  ProcStat stat;
  std::string_view pid_text = text.substr(0, open);
  while (!pid_text.empty() && pid_text.back() == ' ') pid_text.remove_suffix(1);
  if (!parse_number(pid_text, stat.pid)) return std::nullopt;
  stat.comm = std::string(text.substr(open + 1, close - open - 1));

  // Fields after comm, numbered as in proc(5): state is field 3.
  std::vector<std::string_view> fields;
  std::string_view rest = text.substr(close + 1);
  while (!rest.empty()) {
    const size_t start = rest.find_first_not_of(" \n");
    if (start == std::string_view::npos) break;
    rest.remove_prefix(start);
    const size_t end = std::min(rest.find_first_of(" \n"), rest.size());
    fields.push_back(rest.substr(0, end));
    rest.remove_prefix(end);
  }
  auto field = [&](size_t number) { return fields[number - 3]; };
  if (fields.size() < 24 - 2 || field(3).size() != 1) return std::nullopt;
  stat.state = field(3)[0];
  if (!parse_number(field(4), stat.ppid) || !parse_number(field(5), stat.pgrp) ||
      !parse_number(field(6), stat.session) || !parse_number(field(22), stat.start_time_ticks) ||
      !parse_number(field(14), stat.utime_ticks) || !parse_number(field(15), stat.stime_ticks) ||
      !parse_number(field(24), stat.rss_pages)) {
    return std::nullopt;
  }
  return stat;
}

Result<ProcStat> read_proc_stat(pid_t pid, const std::string& proc_root) {
  const std::string path = proc_root + "/" + std::to_string(pid) + "/stat";
  auto text = read_file(path);
  if (!text) return text.error();
  auto stat = parse_proc_stat(*text);
  if (!stat) return Error{"parse " + path, 0};
  return *stat;
}

bool is_same_or_descendant(pid_t pid, pid_t ancestor, const std::string& proc_root) {
  // The hop limit guards against a ppid cycle, which a fake or racing /proc could present.
  pid_t current = pid;
  for (int hop = 0; hop < 4096; ++hop) {
    if (current == ancestor) return true;
    if (current <= 1) return false;
    auto stat = read_proc_stat(current, proc_root);
    if (!stat) return false;
    current = stat->ppid;
  }
  return false;
}

std::vector<pid_t> child_pids(pid_t parent, const std::string& proc_root) {
  return scan(proc_root, [parent](const ProcStat& stat) { return stat.ppid == parent; });
}

std::vector<pid_t> process_group_members(pid_t pgid, const std::string& proc_root) {
  return scan(proc_root, [pgid](const ProcStat& stat) { return stat.pgrp == pgid; });
}

}  // namespace memvisor
