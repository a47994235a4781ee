// Finding the preload library and putting it into a worker's environment.
#include "heap_report/sampler_library.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

#include "sampler/sampler_abi.h"

namespace memvisor {

std::string find_sampler_library(const std::string& self_executable) {
  if (const char* forced = std::getenv("MEMVISOR_SAMPLER_LIBRARY"); forced && *forced)
    return access(forced, R_OK) == 0 ? forced : "";
  std::error_code error;
  const auto exe = std::filesystem::weakly_canonical(self_executable, error);
  const auto bin = exe.parent_path();
  const std::filesystem::path candidates[] = {
      bin / kSamplerLibraryName,
      bin / "src" / "sampler" / kSamplerLibraryName,
      bin.parent_path() / MEMVISOR_INSTALL_LIBDIR / kSamplerLibraryName,
      std::filesystem::path(MEMVISOR_INSTALL_FULL_LIBDIR) / kSamplerLibraryName,
  };
  for (const auto& path : candidates) {
    if (access(path.c_str(), R_OK) == 0) return path.string();
  }
  return "";
}

void add_sampler_environment(std::vector<std::string>& env, const std::string& library,
                             const std::string& control_dir) {
  const std::string preload_key = "LD_PRELOAD=";
  const std::string dir_key = std::string(memvisor_sampler::kEnvControlDir) + "=";
  bool preload_seen = false, dir_seen = false;
  for (std::string& entry : env) {
    if (entry.compare(0, preload_key.size(), preload_key) == 0) {
      preload_seen = true;
      const std::string current = entry.substr(preload_key.size());
      if (current.find(library) == std::string::npos)
        entry = preload_key + (current.empty() ? library : current + " " + library);
    } else if (entry.compare(0, dir_key.size(), dir_key) == 0) {
      dir_seen = true;
      entry = dir_key + control_dir;
    }
  }
  if (!preload_seen) env.push_back(preload_key + library);
  if (!dir_seen) env.push_back(dir_key + control_dir);
}

}  // namespace memvisor
