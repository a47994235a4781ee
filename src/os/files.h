// Small file-system operations the daemon needs: directories with a mode, whole-file reads,
// atomic writes, and an append-only line log.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "core/result.h"
#include "os/log_rotation.h"
#include "os/unique_fd.h"

namespace memvisor {

// mkdir -p; directories it creates get `mode`. An existing directory is left as it is.
Status make_directories(const std::string& path, mode_t mode);
Result<std::string> read_file(const std::string& path);
// The target of a symbolic link (/proc/PID/exe, /proc/PID/ns/net); "" when it cannot be read.
std::string read_link(const std::string& path);
// Writes to PATH.tmp.PID, fsyncs it, renames over `path`, fsyncs the directory.
Status write_file_atomically(const std::string& path, std::string_view content, mode_t mode);

// An O_APPEND log: every append is one write(2) of one whole line, so concurrent appenders never
// interleave within a line. With a rotation limit, a line that would take the file past it goes
// to a fresh file after the renames of os/log_rotation; appenders in other processes (the
// controller and the supervisor share events.jsonl) notice the new file by its inode before their
// next line, and a lock on the old file keeps two of them from rotating it twice.
class AppendLog {
 public:
  static Result<AppendLog> open(const std::string& path, mode_t mode);
  // Takes effect from the next line; a reload calls it with the new limits.
  void set_rotation(LogRotation rotation) { rotation_ = rotation; }
  // Adds the '\n'. If a due rotation fails the line is still appended (to the old file) and the
  // rotation's error returned: a full log is better than a lost line.
  Status append_line(std::string_view line);
  int fd() const { return fd_.get(); }

 private:
  Status reopen();
  Status rotate_if_due(uint64_t line_bytes);
  // After a short write of `written` bytes: removes them, so no half line stays in the file.
  void drop_partial_line(size_t written);

  UniqueFd fd_;
  std::string path_;
  mode_t mode_ = 0600;
  LogRotation rotation_{0, kDefaultLogKeep};  // off until set
};

}  // namespace memvisor
