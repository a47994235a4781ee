// Small file-system operations the daemon needs: directories with a mode, whole-file reads,
// atomic writes, and an append-only line log.
#pragma once

#include <sys/types.h>

#include <string>
#include <string_view>

#include "core/result.h"
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
// interleave within a line.
class AppendLog {
 public:
  static Result<AppendLog> open(const std::string& path, mode_t mode);
  Status append_line(std::string_view line);  // adds the '\n'
  int fd() const { return fd_.get(); }

 private:
  UniqueFd fd_;
};

}  // namespace memvisor
