// The scratch directory's creation, files and removal, all relative to its directory fd.
#include "runtimes/jvm/jvm_scratch_dir.h"

#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

namespace memvisor {

Result<JvmScratchDir> JvmScratchDir::create(const JvmTarget& target) {
  const std::string tmp = target.root + "/tmp";
  JvmScratchDir dir;
  dir.tmp_ = UniqueFd(::open(tmp.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dir.tmp_.valid()) return Error{"open the JVM's /tmp (" + tmp + ")", errno};
  std::string path = tmp + "/memvisor-jvm-XXXXXX";
  if (::mkdtemp(path.data()) == nullptr)
    return Error{"create a directory in the JVM's /tmp (" + tmp + ")", errno};
  dir.ours_ = path;
  dir.theirs_ = path.substr(target.root.size());
  dir.name_ = path.substr(tmp.size() + 1);
  dir.dir_ = UniqueFd(
      ::openat(dir.tmp_.get(), dir.name_.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dir.dir_.valid()) {
    const int error = errno;
    ::rmdir(path.c_str());
    return Error{"open " + path, error};
  }
  if (::geteuid() == 0 && target.ids.euid != 0 && ::fchmod(dir.dir_.get(), 01733) != 0)
    return Error{"chmod " + path, errno};
  return dir;
}

JvmScratchDir::~JvmScratchDir() {
  if (!dir_.valid() || !tmp_.valid()) return;
  for (const std::string& name : names_) ::unlinkat(dir_.get(), name.c_str(), 0);
  // The name is removed only while it still names this directory.
  struct stat by_fd {
  }, by_name{};
  if (::fstat(dir_.get(), &by_fd) == 0 &&
      ::fstatat(tmp_.get(), name_.c_str(), &by_name, AT_SYMLINK_NOFOLLOW) == 0 &&
      by_fd.st_dev == by_name.st_dev && by_fd.st_ino == by_name.st_ino)
    ::unlinkat(tmp_.get(), name_.c_str(), AT_REMOVEDIR);
}

std::string JvmScratchDir::theirs(std::string_view name) const {
  return theirs_ + "/" + std::string(name);
}

std::string JvmScratchDir::ours(std::string_view name) const {
  return ours_ + "/" + std::string(name);
}

Status JvmScratchDir::write(std::string_view name, std::string_view content) {
  const std::string file(name);
  UniqueFd fd(::openat(dir_.get(), file.c_str(),
                       O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!fd.valid()) return Error{"create " + ours(name), errno};
  names_.push_back(file);
  // 0644 whatever the umask: the JVM reads it as its own user.
  if (::fchmod(fd.get(), 0644) != 0) return Error{"chmod " + ours(name), errno};
  while (!content.empty()) {
    const ssize_t n = ::write(fd.get(), content.data(), content.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Error{"write " + ours(name), errno};
    content.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

Result<std::string> JvmScratchDir::take(std::string_view name, uid_t owner, size_t limit) {
  const std::string file(name);
  names_.push_back(file);  // removed at the end whatever happens here
  UniqueFd fd(::openat(dir_.get(), file.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  if (!fd.valid()) return Error{"open the JVM's dump " + ours(name), errno};
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return Error{"stat " + ours(name), errno};
  if (!S_ISREG(st.st_mode) || st.st_uid != owner)
    return Error{ours(name) + " is not a regular file of the JVM's user", 0};
  if (static_cast<uint64_t>(st.st_size) > limit)
    return Error{ours(name) + " is larger than " + std::to_string(limit >> 20) + " MiB", 0};
  std::string bytes(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n =
        ::pread(fd.get(), bytes.data() + done, bytes.size() - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Error{"read " + ours(name), errno};
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  bytes.resize(done);
  return bytes;
}

}  // namespace memvisor
