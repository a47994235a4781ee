// OOM-kill counters and oom_score_adj: small reads and one write of /proc and cgroup files.
#include "os/oom.h"

#include <fcntl.h>
#include <unistd.h>

#include <charconv>

#include "os/files.h"
#include "os/sys_error.h"
#include "os/unique_fd.h"

namespace memvisor {

std::optional<uint64_t> keyed_counter(std::string_view text, std::string_view key) {
  size_t start = 0;
  while (start < text.size()) {
    const size_t end = std::min(text.find('\n', start), text.size());
    const std::string_view line = text.substr(start, end - start);
    start = end + 1;
    if (line.size() <= key.size() || !line.starts_with(key) || line[key.size()] != ' ') continue;
    const std::string_view value = line.substr(key.size() + 1);
    uint64_t n = 0;
    if (std::from_chars(value.data(), value.data() + value.size(), n).ec == std::errc()) return n;
    return std::nullopt;
  }
  return std::nullopt;
}

std::optional<uint64_t> cgroup_oom_kills(const std::string& dir) {
  for (const char* file : {"/memory.events", "/memory.oom_control"}) {
    if (auto text = read_file(dir + file)) return keyed_counter(*text, "oom_kill");
  }
  return std::nullopt;
}

std::optional<uint64_t> machine_oom_kills(const std::string& proc_root) {
  auto text = read_file(proc_root + "/vmstat");
  if (!text) return std::nullopt;
  return keyed_counter(*text, "oom_kill");
}

Status set_own_oom_score_adj(int value) {
  const char* path = "/proc/self/oom_score_adj";
  UniqueFd fd(::open(path, O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) return sys_error("open", path);
  const std::string text = std::to_string(value);
  if (::write(fd.get(), text.data(), text.size()) < 0) return sys_error("write", path);
  return {};
}

std::optional<int> oom_score_adj_of(pid_t pid) {
  auto text = read_file("/proc/" + std::to_string(pid) + "/oom_score_adj");
  if (!text) return std::nullopt;
  int value = 0;
  if (std::from_chars(text->data(), text->data() + text->size(), value).ec != std::errc()) {
    return std::nullopt;
  }
  return value;
}

}  // namespace memvisor
