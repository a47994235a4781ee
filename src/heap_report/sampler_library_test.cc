#include "heap_report/sampler_library.h"

#include <gtest/gtest.h>

namespace memvisor {
namespace {

TEST(SamplerEnvironment, AppendsToAnExistingPreload) {
  std::vector<std::string> env{"PATH=/bin", "LD_PRELOAD=/opt/libother.so"};
  add_sampler_environment(env, "/x/libmemvisor_sampler.so", "/run/m/sampler");
  EXPECT_EQ(env[1], "LD_PRELOAD=/opt/libother.so /x/libmemvisor_sampler.so");
  EXPECT_EQ(env[2], "MEMVISOR_SAMPLER_DIR=/run/m/sampler");
}

TEST(SamplerEnvironment, AddsPreloadOnceAndReplacesTheDirectory) {
  std::vector<std::string> env{"MEMVISOR_SAMPLER_DIR=/old"};
  add_sampler_environment(env, "/x/lib.so", "/new");
  add_sampler_environment(env, "/x/lib.so", "/new");
  EXPECT_EQ(env, (std::vector<std::string>{"MEMVISOR_SAMPLER_DIR=/new", "LD_PRELOAD=/x/lib.so"}));
}

TEST(SamplerLibrary, MissingEverywhereIsEmpty) {
  setenv("MEMVISOR_SAMPLER_LIBRARY", "/nonexistent/lib.so", 1);
  EXPECT_EQ(find_sampler_library("/nonexistent/bin/memvisor"), "");
  unsetenv("MEMVISOR_SAMPLER_LIBRARY");
}

}  // namespace
}  // namespace memvisor
