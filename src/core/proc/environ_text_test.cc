#include "core/proc/environ_text.h"

#include <gtest/gtest.h>

namespace memvisor {
namespace {

TEST(EnvironText, FindsTheFirstEntryOfAKey) {
  using namespace std::string_literals;
  const std::string environ = "PATH=/bin\0LD_PRELOAD=/a.so /b.so\0EMPTY=\0LD_PRELOAD=/c.so\0"s;
  EXPECT_EQ(environ_value(environ, "LD_PRELOAD"), "/a.so /b.so");
  EXPECT_EQ(environ_value(environ, "EMPTY"), "");
  EXPECT_EQ(environ_value(environ, "PAT"), std::nullopt);  // a prefix of a key is not the key
  EXPECT_EQ(environ_value(environ, "HOME"), std::nullopt);
  EXPECT_EQ(environ_value("LAST=no-terminator", "LAST"), "no-terminator");
  EXPECT_EQ(environ_value("", "X"), std::nullopt);
}

}  // namespace
}  // namespace memvisor
