// Rotation of line logs by size: the pure decisions and the renames (see log_rotation.h).
#include "os/log_rotation.h"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

namespace memvisor {

bool rotation_due(uint64_t file_size, uint64_t line_bytes, uint64_t max_size) {
  if (max_size == 0 || file_size == 0) return false;
  return file_size + line_bytes > max_size;
}

std::string rotated_log_path(const std::string& path, int n) {
  return path + "." + std::to_string(n);
}

std::vector<std::pair<std::string, std::string>> rotation_renames(const std::string& path,
                                                                  int keep) {
  std::vector<std::pair<std::string, std::string>> renames;
  if (keep < 1) return renames;
  for (int n = keep - 1; n >= 1; --n) {
    renames.emplace_back(rotated_log_path(path, n), rotated_log_path(path, n + 1));
  }
  renames.emplace_back(path, rotated_log_path(path, 1));
  return renames;
}

Status rotate_log_files(const std::string& path, int keep) {
  if (keep < 1) {  // nothing kept: the current file simply goes
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) return Error::from_errno("remove " + path);
  }
  for (const auto& [from, to] : rotation_renames(path, keep)) {
    if (::rename(from.c_str(), to.c_str()) == 0 || errno == ENOENT) continue;
    return Error::from_errno("rename " + from + " to " + to);
  }
  // A smaller `keep` after a reload: the files past it are the oldest, and go now.
  for (int n = std::max(keep, 0) + 1; n <= kMaxLogKeep + 1; ++n) {
    if (::unlink(rotated_log_path(path, n).c_str()) != 0) break;
  }
  return {};
}

std::vector<std::string> existing_rotated_logs(const std::string& path) {
  std::vector<std::string> found;
  struct stat st {};
  for (int n = 1; n <= kMaxLogKeep + 1; ++n) {
    std::string candidate = rotated_log_path(path, n);
    if (::stat(candidate.c_str(), &st) != 0) break;
    found.push_back(std::move(candidate));
  }
  std::reverse(found.begin(), found.end());
  return found;
}

}  // namespace memvisor
