#include "os/child_pidfd.h"

#include <fmt/format.h>

#include <cerrno>

#include "os/pidfd.h"

namespace memvisor {
namespace {

Status is_the_child(pid_t pid, pid_t parent, uint64_t start_ticks, const std::string& proc_root) {
  auto stat = read_proc_stat(pid, proc_root);
  if (!stat) return Error{fmt::format("no process {}", pid), ESRCH};
  if (stat->ppid != parent) {
    return Error{
        fmt::format("pid {} is not a child of pid {} (its parent is {})", pid, parent, stat->ppid),
        ESRCH};
  }
  if (stat->start_time_ticks != start_ticks) {
    return Error{fmt::format("pid {} is another process now (started at {}, not {})", pid,
                             stat->start_time_ticks, start_ticks),
                 ESRCH};
  }
  if (stat->state == 'Z') return Error{fmt::format("pid {} has exited", pid), ESRCH};
  return {};
}

}  // namespace

Result<UniqueFd> open_child_pidfd(pid_t pid, pid_t parent, uint64_t start_ticks,
                                  const std::string& proc_root) {
  if (pid <= 0 || parent <= 0) return Error{fmt::format("no process {}", pid), ESRCH};
  if (Status checked = is_the_child(pid, parent, start_ticks, proc_root); !checked) {
    return checked.error();
  }
  auto pidfd = pidfd_open(pid);
  if (!pidfd) return pidfd.error();
  if (Status checked = is_the_child(pid, parent, start_ticks, proc_root); !checked) {
    return checked.error();
  }
  return pidfd;
}

}  // namespace memvisor
