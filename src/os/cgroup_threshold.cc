// cgroup usage thresholds as kernel notifications (cgroup_threshold.h).
#include "os/cgroup_threshold.h"

#include <fcntl.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <fmt/format.h>

#include "os/sys_error.h"

namespace memvisor {

Result<UniqueFd> arm_v1_usage_threshold(const std::string& dir, uint64_t bytes) {
  UniqueFd event(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!event.valid()) return sys_error("eventfd", dir);
  const std::string usage_path = dir + "/memory.usage_in_bytes";
  UniqueFd usage(::open(usage_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!usage.valid()) return sys_error("open", usage_path);
  const std::string control_path = dir + "/cgroup.event_control";
  UniqueFd control(::open(control_path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!control.valid()) return sys_error("open", control_path);
  // "<event_fd> <fd of memory.usage_in_bytes> <threshold>"; the kernel keeps its own references,
  // so both files may be closed once registered.
  const std::string line = fmt::format("{} {} {}", event.get(), usage.get(), bytes);
  if (::write(control.get(), line.data(), line.size()) < 0) return sys_error("write", control_path);
  return event;
}

Result<UniqueFd> open_v2_memory_events(const std::string& dir) {
  const std::string path = dir + "/memory.events";
  UniqueFd events(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!events.valid()) return sys_error("open", path);
  consume_v2_events(events.get());
  return events;
}

void consume_v2_events(int fd) {
  // kernfs reports a change until the file is read again from its start.
  char buffer[512];
  if (::lseek(fd, 0, SEEK_SET) < 0) return;
  while (::read(fd, buffer, sizeof buffer) > 0) {
  }
}

void consume_eventfd(int fd) {
  uint64_t count = 0;
  (void)!::read(fd, &count, sizeof count);
}

}  // namespace memvisor
