// Where libmemvisor_sampler.so is, and the environment that preloads it into a worker.
#pragma once

#include <string>
#include <vector>

namespace memvisor {

inline constexpr const char* kSamplerLibraryName = "libmemvisor_sampler.so";

// $MEMVISOR_SAMPLER_LIBRARY, else next to the memvisor binary, else the build tree's
// src/sampler/, else the installed libdir. "" when none exists.
std::string find_sampler_library(const std::string& self_executable);

// `env` (KEY=VALUE entries) with the library appended to LD_PRELOAD (kept if already there) and
// MEMVISOR_SAMPLER_DIR set to `control_dir`.
void add_sampler_environment(std::vector<std::string>& env, const std::string& library,
                             const std::string& control_dir);

}  // namespace memvisor
