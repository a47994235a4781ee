// For the JVM sampler's unit tests only: captured output of a real JVM (OpenJDK 17) under
// tests/fixtures/runtimes/jvm.
#pragma once

#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

#include "core/test_fixtures.h"

namespace memvisor {

// The bytes of tests/fixtures/runtimes/jvm/NAME; a failed expectation when it cannot be read.
inline std::string jvm_fixture(std::string_view name) {
  std::ifstream in(fixture_path("runtimes/jvm") + "/" + std::string(name), std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

}  // namespace memvisor
