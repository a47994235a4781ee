// /dev/kmsg gives one record per read(2); EAGAIN once caught up, EPIPE when the record due was
// overwritten (the next read goes on from the oldest kept). Documented in the kernel's
// Documentation/ABI/testing/dev-kmsg.
#include "os/kernel_log_reader.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "os/sys_error.h"

namespace memvisor {

Result<KernelLogReader> KernelLogReader::open(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) return sys_error("open", path);
  // From now on: what the log held before memvisor started is not about its workers.
  if (::lseek(fd.get(), 0, SEEK_END) < 0) return sys_error("seek to the end of", path);
  return KernelLogReader(std::move(fd));
}

std::vector<OomKillRecord> KernelLogReader::oom_kills(size_t max_records) {
  std::vector<OomKillRecord> kills;
  char record[8192];  // the kernel's records are at most 1 KiB of text plus their context lines
  for (size_t i = 0; i < max_records; ++i) {
    const ssize_t n = ::read(fd_.get(), record, sizeof record);
    if (n < 0 && (errno == EPIPE || errno == EINTR)) continue;
    if (n <= 0) break;  // EAGAIN: caught up; anything else: try again next time
    if (auto kill = parse_oom_kill_record(std::string_view(record, static_cast<size_t>(n))))
      kills.push_back(std::move(*kill));
  }
  return kills;
}

}  // namespace memvisor
