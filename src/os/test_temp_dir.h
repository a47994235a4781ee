// For the os tests only: a fresh directory under /tmp, removed with its contents afterwards.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>

namespace memvisor {

class TestTempDir {
 public:
  TestTempDir() {
    std::string pattern = "/tmp/memvisor-os-test.XXXXXX";
    if (::mkdtemp(pattern.data()) != nullptr) path_ = pattern;
  }
  ~TestTempDir() {
    std::error_code ignored;
    if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
  }
  TestTempDir(const TestTempDir&) = delete;
  TestTempDir& operator=(const TestTempDir&) = delete;

  bool ok() const { return !path_.empty(); }
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace memvisor
