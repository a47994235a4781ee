#include "cli/state_dir.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

namespace memvisor {

std::string default_state_dir() {
  if (::geteuid() == 0) return "/run/memvisor";
  if (const char* runtime = std::getenv("XDG_RUNTIME_DIR");
      runtime != nullptr && *runtime != '\0') {
    return std::string(runtime) + "/memvisor";
  }
  return "/tmp/memvisor-" + std::to_string(::geteuid());
}

std::string resolve_state_dir(const std::string& flag, const std::string& configured) {
  std::string dir = flag;
  if (dir.empty()) {
    if (const char* env = std::getenv("MEMVISOR_STATE_DIR"); env != nullptr && *env != '\0')
      dir = env;
  }
  if (dir.empty()) dir = configured;
  if (dir.empty()) dir = default_state_dir();
  std::error_code ignored;
  std::string absolute = std::filesystem::absolute(dir, ignored).lexically_normal().string();
  if (absolute.size() > 1 && absolute.back() == '/') absolute.pop_back();
  return absolute.empty() ? dir : absolute;
}

}  // namespace memvisor
