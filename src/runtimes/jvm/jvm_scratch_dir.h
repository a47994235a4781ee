// A private directory in the JVM's /tmp, which both memvisor (through /proc/PID/root) and the JVM
// (as its own user, in its own mount namespace) reach: the recording's settings go in, the JVM's
// dump comes out. Removed with its files when it goes out of scope.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "os/unique_fd.h"
#include "runtimes/jvm/jvm_target.h"

namespace memvisor {

class JvmScratchDir {
 public:
  // /tmp/memvisor-jvm-XXXXXX of the JVM. Owned by memvisor; a root memvisor makes it 01733 (the
  // JVM, another user, may create files but not list, rename or remove the directory), else 0700.
  static Result<JvmScratchDir> create(const JvmTarget& target);
  JvmScratchDir(JvmScratchDir&&) = default;
  JvmScratchDir& operator=(JvmScratchDir&&) = default;
  ~JvmScratchDir();

  std::string theirs(std::string_view name) const;  // the path the JVM is given
  std::string ours(std::string_view name) const;    // the same file from here

  // A new file (never through a symlink), readable by the JVM.
  Status write(std::string_view name, std::string_view content);
  // A regular file the JVM wrote (owned by `owner`), at most `limit` bytes; removed afterwards.
  Result<std::string> take(std::string_view name, uid_t owner, size_t limit);

 private:
  JvmScratchDir() = default;
  std::string ours_;    // PROC/PID/root/tmp/memvisor-jvm-XXXXXX
  std::string theirs_;  // /tmp/memvisor-jvm-XXXXXX
  std::string name_;    // memvisor-jvm-XXXXXX
  // Every file operation is relative to these: a renamed path cannot redirect them, and they
  // still reach the directory once the JVM has exited and PROC/PID/root resolves no more.
  UniqueFd tmp_;
  UniqueFd dir_;
  std::vector<std::string> names_;  // the files to remove at the end
};

}  // namespace memvisor
