// Size-based rotation of append-only line logs (events.jsonl, output = "file" SERVICE.N.log):
// when the next whole line would take the file past its limit, PATH.(keep-1) → PATH.keep, …,
// PATH → PATH.1, by rename, and a fresh PATH is started. The decisions are pure functions here so
// they can be tested alone; rotate_log_files does the renames.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/result.h"

namespace memvisor {

inline constexpr uint64_t kDefaultLogMaxSize = uint64_t{64} << 20;
inline constexpr int kDefaultLogKeep = 3;
inline constexpr int kMaxLogKeep = 1000;

struct LogRotation {
  uint64_t max_size = kDefaultLogMaxSize;  // 0: never rotate
  int keep = kDefaultLogKeep;              // rotated files kept: PATH.1 (newest) … PATH.keep
};

// Whether a line of `line_bytes` (with its '\n') must go to a fresh file: it would take a
// non-empty file past max_size. An empty file always takes the line, however long, so a line
// longer than the limit is written whole rather than split or dropped.
bool rotation_due(uint64_t file_size, uint64_t line_bytes, uint64_t max_size);

// "PATH.N".
std::string rotated_log_path(const std::string& path, int n);

// The renames of one rotation, in the order they must happen (oldest first, so nothing is
// overwritten before it has moved): {PATH.(keep-1), PATH.keep}, …, {PATH, PATH.1}.
std::vector<std::pair<std::string, std::string>> rotation_renames(const std::string& path,
                                                                  int keep);

// Does one rotation: the renames (a missing source is skipped), then removes PATH.(keep+1) and
// beyond (left by a larger `keep` before a reload). PATH itself no longer exists afterwards.
Status rotate_log_files(const std::string& path, int keep);

// The rotated files that exist, oldest first (PATH.N … PATH.1), for a reader of the whole history.
std::vector<std::string> existing_rotated_logs(const std::string& path);

}  // namespace memvisor
