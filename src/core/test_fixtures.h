// For unit tests only: captured kernel files under tests/fixtures (MEMVISOR_FIXTURES, set by the
// build for the unit-test targets).
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>

namespace memvisor {

// tests/fixtures/RELATIVE. Built as a path, not by std::string concatenation, which GCC 12 at -O2
// warns about (a false -Warray-bounds) for some lengths of the checkout's path.
inline std::string fixture_path(std::string_view relative) {
  return (std::filesystem::path(MEMVISOR_FIXTURES) / relative).string();
}

// A /proc tree captured from a real kernel (tests/fixtures/memory/proc).
inline std::string proc_fixtures() {
  return fixture_path("memory/proc");
}

// The text of tests/fixtures/memory/NAME; a failed expectation when it cannot be read.
inline std::string memory_fixture(std::string_view name) {
  std::ifstream in(fixture_path("memory") + "/" + std::string(name));
  EXPECT_TRUE(in.good()) << name;
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Kernel files count in KiB ("Rss: 1234 kB").
constexpr uint64_t kib(uint64_t n) {
  return n * 1024;
}

}  // namespace memvisor
