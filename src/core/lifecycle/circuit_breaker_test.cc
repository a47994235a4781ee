#include "core/lifecycle/circuit_breaker.h"

#include <gtest/gtest.h>

namespace memvisor {
namespace {

using std::chrono::seconds;
using TimePoint = CircuitBreaker::TimePoint;

TEST(CircuitBreaker, OpensAfterThresholdConsecutiveFailures) {
  CircuitBreaker breaker(3, seconds(60));
  const TimePoint t0{};
  EXPECT_FALSE(breaker.record_failure(t0));
  EXPECT_FALSE(breaker.record_failure(t0));
  EXPECT_EQ(breaker.state(), CircuitState::closed);
  EXPECT_TRUE(breaker.record_failure(t0 + seconds(1)));
  EXPECT_EQ(breaker.state(), CircuitState::open);
  EXPECT_EQ(breaker.retry_at(), t0 + seconds(61));
}

TEST(CircuitBreaker, OpenRefusesUntilCooldownThenAllowsOneHalfOpenTry) {
  CircuitBreaker breaker(1, seconds(10));
  const TimePoint t0{};
  ASSERT_TRUE(breaker.record_failure(t0));
  EXPECT_FALSE(breaker.allow_start(t0 + seconds(9)));
  EXPECT_TRUE(breaker.allow_start(t0 + seconds(10)));
  EXPECT_EQ(breaker.state(), CircuitState::half_open);
}

TEST(CircuitBreaker, FailedHalfOpenTryReopensAtOnce) {
  CircuitBreaker breaker(5, seconds(10));
  TimePoint now{};
  for (int i = 0; i < 5; ++i) (void)breaker.record_failure(now);
  now += seconds(10);
  ASSERT_TRUE(breaker.allow_start(now));
  EXPECT_TRUE(breaker.record_failure(now));
  EXPECT_EQ(breaker.state(), CircuitState::open);
  EXPECT_EQ(breaker.retry_at(), now + seconds(10));
}

TEST(CircuitBreaker, AnOperatorsTryIsHalfOpenBeforeTheCooldownEnds) {
  CircuitBreaker breaker(1, seconds(600));
  const TimePoint t0{};
  ASSERT_TRUE(breaker.record_failure(t0));
  breaker.try_now();
  EXPECT_EQ(breaker.state(), CircuitState::half_open);
  EXPECT_TRUE(breaker.allow_start(t0 + seconds(1)));
  // The try failed: open again, for a whole cool-down from now.
  EXPECT_TRUE(breaker.record_failure(t0 + seconds(2)));
  EXPECT_EQ(breaker.retry_at(), t0 + seconds(602));
  // A closed circuit is left as it is.
  CircuitBreaker closed(3, seconds(60));
  closed.try_now();
  EXPECT_EQ(closed.state(), CircuitState::closed);
}

TEST(CircuitBreaker, SuccessClosesAndResetsTheStreak) {
  CircuitBreaker breaker(2, seconds(10));
  const TimePoint t0{};
  (void)breaker.record_failure(t0);
  (void)breaker.record_failure(t0);
  ASSERT_TRUE(breaker.allow_start(t0 + seconds(10)));
  EXPECT_TRUE(breaker.record_success());
  EXPECT_EQ(breaker.state(), CircuitState::closed);
  EXPECT_EQ(breaker.consecutive_failures(), 0);
  EXPECT_FALSE(breaker.record_failure(t0));  // a fresh streak starts from zero
}

}  // namespace
}  // namespace memvisor
