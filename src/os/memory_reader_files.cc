// Held /proc files: openat through the pinned /proc/PID directory, pread from offset 0.
#include "os/memory_reader_files.h"

#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <memory>

#include "core/proc/children_list.h"
#include "os/sys_error.h"

namespace memvisor {
namespace {

const char* file_name(MemorySource source) {
  switch (source) {
    case MemorySource::rollup:
      return "smaps_rollup";
    case MemorySource::status:
      return "status";
    case MemorySource::statm:
      return "statm";
  }
  return "smaps_rollup";
}

// These files are produced whole by one seq_file show: a read shorter than the buffer has all of
// it. A second pread would make the kernel produce the text again to skip to its offset.
Status pread_whole(int fd, std::string& buffer, const char* name) {
  if (buffer.size() < 4096) buffer.resize(4096);
  for (;;) {
    const ssize_t n = ::pread(fd, buffer.data(), buffer.size(), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_error("read", name);
    }
    if (static_cast<size_t>(n) < buffer.size()) {
      buffer.resize(static_cast<size_t>(n));
      return {};
    }
    buffer.resize(buffer.size() * 2);
  }
}

}  // namespace

Result<OpenedProcess> OpenedProcess::open(const std::string& proc_root, pid_t pid) {
  OpenedProcess process;
  const std::string dir = proc_root + "/" + std::to_string(pid);
  process.dir_.reset(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!process.dir_.valid()) return sys_error("open", dir);
  UniqueFd stat_fd(::openat(process.dir_.get(), "stat", O_RDONLY | O_CLOEXEC));
  if (!stat_fd.valid()) return sys_error("open", dir + "/stat");
  std::string text;
  if (auto read = pread_whole(stat_fd.get(), text, "stat"); !read) return read.error();
  auto stat = parse_proc_stat(text);
  // A process reaped between the two opens reads as empty text.
  if (!stat) return Error{"parse " + dir + "/stat", text.empty() ? ESRCH : 0};
  process.stat_ = std::move(*stat);
  return process;
}

Status OpenedProcess::open_file(MemorySource source) {
  file(source).reset(::openat(dir_.get(), file_name(source), O_RDONLY | O_CLOEXEC));
  if (!file(source).valid()) return sys_error("open", file_name(source));
  return {};
}

Status OpenedProcess::read(MemorySource source, std::string& buffer) {
  const bool fresh = !file(source).valid();
  if (fresh) {
    if (auto opened = open_file(source); !opened) return opened.error();
  }
  if (auto read = pread_whole(file(source).get(), buffer, file_name(source)); !read) {
    if (fresh || read.error().errnum != ESRCH) return read.error();
  } else if (!buffer.empty() || source != MemorySource::rollup || fresh) {
    return {};
  }
  // The held file may read an address space the process no longer has (it exec'd).
  if (auto opened = open_file(source); !opened) return opened.error();
  return pread_whole(file(source).get(), buffer, file_name(source));
}

Result<std::vector<pid_t>> OpenedProcess::children() const {
  std::vector<pid_t> pids;
  UniqueFd task(::openat(dir_.get(), "task", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!task.valid()) return sys_error("open", "task");
  // fdopendir owns the fd it is given; the threads' own fds are opened relative to it.
  const int task_fd = task.get();
  std::unique_ptr<DIR, int (*)(DIR*)> threads(::fdopendir(task.release()), ::closedir);
  if (!threads) return sys_error("list", "task");
  std::string text;
  while (const dirent* entry = ::readdir(threads.get())) {
    if (entry->d_name[0] == '.') continue;
    const std::string path = std::string(entry->d_name) + "/children";
    UniqueFd children(::openat(task_fd, path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!children.valid()) {
      if (errno == ENOENT && pids.empty()) {
        // No such file at all (CONFIG_PROC_CHILDREN off), or this thread just exited.
        if (::faccessat(task_fd, entry->d_name, F_OK, 0) == 0)
          return Error{"open children", ENOENT};
      }
      continue;
    }
    if (pread_whole(children.get(), text, "children")) parse_children_list(text, pids);
  }
  return pids;
}

bool OpenedProcess::alive() const {
  UniqueFd stat_fd(::openat(dir_.get(), "stat", O_RDONLY | O_CLOEXEC));
  return stat_fd.valid();
}

}  // namespace memvisor
