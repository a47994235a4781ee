// File-system operations for state and logs, each failing with the path it was working on.
#include "os/files.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "os/sys_error.h"

namespace memvisor {
namespace {

Status write_fully(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    const ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_error("write", path);
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

std::string parent_directory(const std::string& path) {
  const size_t slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

Status make_directories(const std::string& path, mode_t mode) {
  if (path.empty()) return Error{"create directory ''", ENOENT};
  size_t end = 0;
  while (end != std::string::npos) {
    end = path.find('/', end + 1);
    const std::string prefix = path.substr(0, end);
    if (prefix.empty() || prefix.back() == '/') continue;  // "//" or a trailing '/'
    if (::mkdir(prefix.c_str(), mode) == 0) {
      // mkdir applies the umask; the caller asked for exactly `mode` (e.g. 0700 runtime dirs).
      if (::chmod(prefix.c_str(), mode) < 0) return sys_error("chmod directory", prefix);
      continue;
    }
    if (errno != EEXIST) return sys_error("create directory", prefix);
    struct stat st {};
    if (::stat(prefix.c_str(), &st) < 0) return sys_error("create directory", prefix);
    if (!S_ISDIR(st.st_mode)) return Error{"create directory " + prefix, ENOTDIR};
  }
  return {};
}

std::string read_link(const std::string& path) {
  char target[4096];
  const ssize_t n = ::readlink(path.c_str(), target, sizeof target);
  return n > 0 && static_cast<size_t>(n) < sizeof target
             ? std::string(target, static_cast<size_t>(n))
             : "";
}

Result<std::string> read_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return sys_error("open", path);
  // No fstat size: /proc and sysfs files report 0 and must be read until EOF.
  std::string content;
  char buf[65536];
  for (;;) {
    const ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n == 0) return content;
    if (n < 0) {
      if (errno == EINTR) continue;
      return sys_error("read", path);
    }
    content.append(buf, static_cast<size_t>(n));
  }
}

Status write_file_atomically(const std::string& path, std::string_view content, mode_t mode) {
  const std::string temp = path + ".tmp." + std::to_string(::getpid());
  UniqueFd fd(::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode));
  if (!fd.valid()) return sys_error("create", temp);
  auto fail = [&temp](Error error) {
    ::unlink(temp.c_str());
    return error;
  };
  // fchmod: a leftover temp file from a crashed run keeps its old mode through O_TRUNC.
  if (::fchmod(fd.get(), mode) < 0) return fail(sys_error("chmod", temp));
  if (auto written = write_fully(fd.get(), content, temp); !written) return fail(written.error());
  if (::fsync(fd.get()) < 0) return fail(sys_error("fsync", temp));
  if (::close(fd.release()) < 0) return fail(sys_error("close", temp));
  if (::rename(temp.c_str(), path.c_str()) < 0) {
    const int err = errno;
    return fail(Error{"rename " + temp + " to " + path, err});
  }

  // The rename is durable only once the directory entry itself is on disk.
  const std::string dir = parent_directory(path);
  UniqueFd dir_fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir_fd.valid()) return sys_error("open directory", dir);
  if (::fsync(dir_fd.get()) < 0) return sys_error("fsync directory", dir);
  return {};
}

Result<AppendLog> AppendLog::open(const std::string& path, mode_t mode) {
  AppendLog log;
  log.path_ = path;
  log.mode_ = mode;
  if (Status opened = log.reopen(); !opened) return opened.error();
  return log;
}

Status AppendLog::reopen() {
  UniqueFd fd(::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, mode_));
  if (!fd.valid()) return sys_error("open log", path_);
  fd_ = std::move(fd);
  return {};
}

Status AppendLog::rotate_if_due(uint64_t line_bytes) {
  struct stat open_file {};
  struct stat named {};
  if (::fstat(fd_.get(), &open_file) != 0) return sys_error("stat log", path_);
  // Another appender rotated (or someone removed the file): follow it to the new one.
  if (::stat(path_.c_str(), &named) != 0 || named.st_ino != open_file.st_ino ||
      named.st_dev != open_file.st_dev) {
    if (Status opened = reopen(); !opened) return opened;
    if (::fstat(fd_.get(), &open_file) != 0) return sys_error("stat log", path_);
  }
  if (!rotation_due(static_cast<uint64_t>(open_file.st_size), line_bytes, rotation_.max_size)) {
    return {};
  }
  // The lock is on the file being rotated: whoever gets it second finds PATH already new.
  while (::flock(fd_.get(), LOCK_EX) != 0) {
    if (errno != EINTR) return sys_error("lock log", path_);
  }
  Status rotated;
  if (::stat(path_.c_str(), &named) == 0 && named.st_ino == open_file.st_ino &&
      named.st_dev == open_file.st_dev) {
    rotated = rotate_log_files(path_, rotation_.keep);
  }
  (void)::flock(fd_.get(), LOCK_UN);
  if (!rotated) return rotated;
  return reopen();
}

void AppendLog::drop_partial_line(size_t written) {
  // With O_APPEND the offset after the write is the end of what this write put there. Cut only
  // if nothing follows it: another appender's whole line after ours is worth more than a clean
  // cut.
  const off_t end = ::lseek(fd_.get(), 0, SEEK_CUR);
  struct stat st {};
  if (end < 0 || ::fstat(fd_.get(), &st) != 0 || st.st_size != end) return;
  (void)::ftruncate(fd_.get(), end - static_cast<off_t>(written));
}

Status AppendLog::append_line(std::string_view line) {
  std::string buffer;
  buffer.reserve(line.size() + 1);
  buffer.append(line);
  buffer.push_back('\n');
  Status rotated;
  if (rotation_.max_size > 0) rotated = rotate_if_due(buffer.size());
  for (;;) {
    const ssize_t n = ::write(fd_.get(), buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return sys_error("append to", path_);
    // A second write could interleave with another appender, so a short write is an error; and
    // its half line (a disk that filled up mid-write) is cut off again, see drop_partial_line.
    if (static_cast<size_t>(n) != buffer.size()) {
      drop_partial_line(static_cast<size_t>(n));
      return Error{"append to " + path_ + ": short write (disk full?)", ENOSPC};
    }
    return rotated;
  }
}

}  // namespace memvisor
