#include "runtimes/jvm/jvm_window_settings.h"

#include <gtest/gtest.h>

namespace memvisor {
namespace {

TEST(JvmWindowSettings, AboutAThousandAllocationSamplesAWindow) {
  EXPECT_EQ(jvm_window_settings(Millis(1000)).allocation_throttle, "100/s");
  EXPECT_EQ(jvm_window_settings(Millis(5000)).allocation_throttle, "100/s");
  EXPECT_EQ(jvm_window_settings(Millis(30000)).allocation_throttle, "33/s");
  EXPECT_EQ(jvm_window_settings(Millis(3600000)).allocation_throttle, "16/min");
  EXPECT_EQ(jvm_window_settings(Millis(100)).allocation_throttle, "100/s");
}

TEST(JvmWindowSettings, OnlyTheTwoEventsWithStacks) {
  const std::string jfc = jvm_window_settings(Millis(30000)).jfc;
  EXPECT_NE(jfc.find(R"(<event name="jdk.OldObjectSample">)"), std::string::npos);
  EXPECT_NE(jfc.find(R"(<event name="jdk.ObjectAllocationSample">)"), std::string::npos);
  EXPECT_NE(jfc.find(R"(<setting name="throttle">33/s</setting>)"), std::string::npos);
  EXPECT_NE(jfc.find(R"(<setting name="cutoff">0 ns</setting>)"), std::string::npos);
  size_t events = 0;
  for (size_t at = jfc.find("<event "); at != std::string::npos; at = jfc.find("<event ", at + 1))
    ++events;
  EXPECT_EQ(events, 2u);
}

}  // namespace
}  // namespace memvisor
