// The Ruby agent's marker and the process behind it, read and checked; the request file and
// SIGURG through a pidfd.
#include "runtimes/agent/agent_wake.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdlib>

#include "os/files.h"
#include "os/pidfd.h"
#include "os/proc.h"
#include "runtimes/detect_runtime.h"

namespace memvisor {
namespace {

constexpr size_t kMaxMarker = 256;

// The value of "Name:\t..." in /proc/PID/status text, or an empty view.
std::string_view status_field(std::string_view status, std::string_view name) {
  size_t at = 0;
  while (at < status.size()) {
    const size_t end = std::min(status.find('\n', at), status.size());
    const std::string_view line = status.substr(at, end - at);
    if (line.size() > name.size() && line.starts_with(name) && line[name.size()] == ':')
      return line.substr(name.size() + 1);
    at = end + 1;
  }
  return {};
}

std::string_view trim_blank(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\n'))
    text.remove_suffix(1);
  return text;
}

Result<std::string> read_marker(const std::string& path, struct stat& st) {
  if (::lstat(path.c_str(), &st) != 0) return Error::from_errno("stat " + path);
  if (!S_ISREG(st.st_mode)) return Error{path + " is not a regular file", 0};
  if (static_cast<size_t>(st.st_size) > kMaxMarker)
    return Error{path + " is too long for the agent's marker", 0};
  auto text = read_file(path);
  if (!text) return text.error();
  return *text;
}

}  // namespace

std::string agent_wake_marker_path(const std::string& dir, int pid) {
  return dir + "/" + std::to_string(pid) + ".wake";
}

std::string agent_wake_request_path(const std::string& dir, int pid) {
  return agent_wake_marker_path(dir, pid) + ".req";
}

std::optional<AgentWakeMarker> parse_agent_wake_marker(std::string_view text) {
  if (text.empty() || text.back() != '\n') return std::nullopt;  // not written whole
  text.remove_suffix(1);
  const size_t space = text.find(' ');
  if (space == 0 || space == std::string_view::npos || space > 20) return std::nullopt;
  AgentWakeMarker marker;
  for (char c : text.substr(0, space)) {
    if (c < '0' || c > '9') return std::nullopt;
    marker.start_time_ticks = marker.start_time_ticks * 10 + static_cast<uint64_t>(c - '0');
  }
  marker.state = std::string(text.substr(space + 1));
  if (marker.state.empty() || marker.state.size() > 64) return std::nullopt;
  for (char c : marker.state)
    if (!((c >= 'a' && c <= 'z') || c == '-')) return std::nullopt;
  return marker;
}

std::optional<bool> status_catches_signal(std::string_view status, int signo) {
  const std::string_view mask = trim_blank(status_field(status, "SigCgt"));
  if (mask.empty() || mask.size() > 32 || signo < 1 || signo > 64) return std::nullopt;
  // Hex digits, most significant first: bit signo-1 is in digit (signo-1)/4 from the right.
  const size_t bit = static_cast<size_t>(signo - 1);
  if (bit / 4 >= mask.size()) return false;
  const char digit = mask[mask.size() - 1 - bit / 4];
  int value = 0;
  if (digit >= '0' && digit <= '9')
    value = digit - '0';
  else if (digit >= 'a' && digit <= 'f')
    value = digit - 'a' + 10;
  else if (digit >= 'A' && digit <= 'F')
    value = digit - 'A' + 10;
  else
    return std::nullopt;
  return ((value >> (bit % 4)) & 1) != 0;
}

std::vector<uint32_t> status_uids(std::string_view status) {
  std::vector<uint32_t> uids;
  std::string_view rest = trim_blank(status_field(status, "Uid"));
  while (!rest.empty() && uids.size() < 4) {
    const size_t end = std::min(rest.find_first_of(" \t"), rest.size());
    uint64_t value = 0;
    bool digits = end > 0 && end <= 10;
    for (char c : rest.substr(0, end)) {
      if (c < '0' || c > '9') digits = false;
      value = value * 10 + static_cast<uint64_t>(c - '0');
    }
    if (!digits || value > UINT32_MAX) return {};
    uids.push_back(static_cast<uint32_t>(value));
    rest = trim_blank(rest.substr(end));
  }
  return uids;
}

std::string agent_wake_refusal(std::string_view state) {
  if (state == "app-trap")
    return "the app traps SIGURG itself (Puma's fork_worker does, to refork), so the agent stepped "
           "aside and memvisor does not signal it: the app's handler would run";
  if (state == "foreign-handler")
    return "SIGURG already had a handler when the agent loaded (a trap of code required before it, "
           "or native code), so the agent left it alone and cannot be woken";
  if (state == "no-proc")
    return "the agent could not read /proc/self/status at start to see whether SIGURG was free, "
           "so it did not trap it";
  return "the agent's marker says \"" + std::string(state) + "\", not \"armed\"";
}

Status check_agent_wake(const AgentWakeTarget& target) {
  const std::string pid = std::to_string(target.pid);
  const std::string marker_path = agent_wake_marker_path(target.dir, target.pid);
  struct stat st {};
  auto text = read_marker(marker_path, st);
  if (!text) return text.error();
  const auto marker = parse_agent_wake_marker(*text);
  if (!marker) return Error{marker_path + " is not the agent's marker", 0};
  auto proc_stat = read_proc_stat(target.pid, target.proc_root);
  if (!proc_stat) return Error{"no process " + pid, ESRCH};
  if (proc_stat->start_time_ticks != marker->start_time_ticks)
    return Error{marker_path + " is stale: an earlier process with pid " + pid +
                     " wrote it, and pid " + pid + " is another process now",
                 0};
  auto status = read_file(target.proc_root + "/" + pid + "/status");
  if (!status) return Error{"no process " + pid, ESRCH};
  // Root's files can only be root's; a worker that switched users after start keeps its marker.
  const std::vector<uint32_t> uids = status_uids(*status);
  if (st.st_uid != 0 && std::find(uids.begin(), uids.end(), st.st_uid) == uids.end())
    return Error{marker_path + " belongs to uid " + std::to_string(st.st_uid) + ", not to pid " +
                     pid + "'s user: it is not its agent's",
                 0};
  if (marker->state != "armed")
    return Error{
        "the Ruby agent of pid " + pid + " cannot be woken: " + agent_wake_refusal(marker->state),
        0};
  if (status_catches_signal(*status, SIGURG) == false)
    return Error{"pid " + pid +
                     " no longer handles SIGURG (native code reset it), so its Ruby agent cannot "
                     "be woken",
                 0};
  if (!read_link(target.proc_root + "/" + pid + "/exe").empty() &&
      detect_runtime(target.pid, target.proc_root) != RuntimeKind::ruby)
    return Error{"pid " + pid + " is no longer a Ruby process", 0};
  return {};
}

Status wake_agent(const AgentWakeTarget& target) {
  auto pidfd = pidfd_open(target.pid);
  if (!pidfd) return Error{"no process " + std::to_string(target.pid), ESRCH};
  if (Status checked = check_agent_wake(target); !checked) return checked;
  // The agent only checks that the request exists: one left by an earlier memvisor, perhaps of
  // another user, will do.
  const std::string request = agent_wake_request_path(target.dir, target.pid);
  struct stat st {};
  if (::lstat(request.c_str(), &st) != 0) {
    const int fd =
        ::open(request.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0 && errno != EEXIST) return Error::from_errno("create " + request);
    if (fd >= 0) ::close(fd);
  }
  if (Status sent = pidfd_signal(pidfd->get(), SIGURG); !sent) {
    if (sent.error().errnum == EPERM)
      return Error{"no permission to signal pid " + std::to_string(target.pid) +
                       ": sample as root or as the worker's user",
                   EPERM};
    return Error{"pid " + std::to_string(target.pid) + " exited", ESRCH};
  }
  return {};
}

}  // namespace memvisor
