#include "core/protocol/notify_protocol.h"

#include <gtest/gtest.h>

namespace memvisor {
namespace {

using std::chrono::microseconds;

TEST(ServiceWatchdog, OnWhenWatchdogUsecIsSetAndThePidIsOursOrUnset) {
  EXPECT_EQ(service_watchdog_timeout("400000", nullptr, 77), microseconds(400000));
  EXPECT_EQ(service_watchdog_timeout("30000000", "77", 77), microseconds(30000000));
}

TEST(ServiceWatchdog, OffWhenUnsetMalformedZeroOrForAnotherProcess) {
  EXPECT_FALSE(service_watchdog_timeout(nullptr, nullptr, 77));
  EXPECT_FALSE(service_watchdog_timeout("", nullptr, 77));
  EXPECT_FALSE(service_watchdog_timeout("0", nullptr, 77));
  EXPECT_FALSE(service_watchdog_timeout("-5", nullptr, 77));
  EXPECT_FALSE(service_watchdog_timeout("30s", nullptr, 77));
  EXPECT_FALSE(service_watchdog_timeout("18446744073709551615", nullptr, 77));  // infinity
  EXPECT_FALSE(service_watchdog_timeout("400000", "78", 77));  // the watchdog of another process
  EXPECT_FALSE(service_watchdog_timeout("400000", "", 77));
  EXPECT_FALSE(service_watchdog_timeout("400000", "77x", 77));
}

}  // namespace
}  // namespace memvisor
