// A tmpfs of a given size mounted for a test's life, to fill up and free again: how tests show
// what memvisor and its workers do on a full disk. Mounting needs root (CAP_SYS_ADMIN); a test
// skips, saying why, where the kernel refuses it.
#pragma once

#include <sys/mount.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>

namespace memvisor::testing {

class SmallDisk {
 public:
  SmallDisk(const std::string& path, const std::string& size) : path_(path) {
    std::filesystem::create_directories(path);
    const std::string options = "size=" + size + ",mode=0755";
    if (::mount("tmpfs", path.c_str(), "tmpfs", 0, options.c_str()) == 0) {
      mounted_ = true;
    } else {
      why_ = std::strerror(errno);
    }
  }
  ~SmallDisk() {
    if (mounted_) ::umount2(path_.c_str(), MNT_DETACH);
  }
  SmallDisk(const SmallDisk&) = delete;
  SmallDisk& operator=(const SmallDisk&) = delete;

  bool mounted() const { return mounted_; }
  const std::string& why() const { return why_; }

  // Fills what is left with one file, then gives `leave` bytes back; returns the file's path.
  // Writes stop at the first ENOSPC.
  std::string fill(uintmax_t leave = 0) const {
    const std::string filler = path_ + "/filler";
    std::FILE* file = std::fopen(filler.c_str(), "w");
    if (file == nullptr) return filler;
    std::setvbuf(file, nullptr, _IONBF, 0);
    const std::string chunk(4096, 'x');
    while (std::fwrite(chunk.data(), 1, chunk.size(), file) == chunk.size()) {
    }
    for (int i = 0; i < 4096 && std::fwrite("x", 1, 1, file) == 1; ++i) {  // the last page
    }
    std::fclose(file);
    if (leave > 0) {
      std::error_code error;
      const uintmax_t size = std::filesystem::file_size(filler, error);
      if (!error) std::filesystem::resize_file(filler, size > leave ? size - leave : 0, error);
    }
    return filler;
  }

 private:
  std::string path_;
  bool mounted_ = false;
  std::string why_;
};

}  // namespace memvisor::testing
