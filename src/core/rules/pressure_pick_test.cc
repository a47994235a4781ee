// The pressure rule's pure parts: trigger lines, the polled threshold, growth and the pick.
#include "core/rules/pressure_pick.h"

#include <gtest/gtest.h>

namespace memvisor {
namespace {

constexpr uint64_t kPickMiB = 1024 * 1024;

TEST(PressurePick, TriggerLines) {
  PressureRule rule;
  rule.some_percent = 10;
  EXPECT_EQ(psi_triggers(rule, Millis(10000)), std::vector<std::string>{"some 1000000 10000000"});
  rule.full_percent = 2.5;
  EXPECT_EQ(psi_triggers(rule, Millis(2000)),
            (std::vector<std::string>{"some 200000 2000000", "full 50000 2000000"}));
}

TEST(PressurePick, PolledThreshold) {
  PressureRule rule;
  rule.some_percent = 10;
  auto psi = parse_psi(
      "some avg10=9.99 avg60=1.00 avg300=0.00 total=1\nfull avg10=50.00 avg60=0.00 avg300=0.00 "
      "total=1\n");
  ASSERT_TRUE(psi);
  EXPECT_FALSE(psi_over(rule, *psi));  // full is high, but only some is asked about
  psi->some.avg10 = 10;
  EXPECT_TRUE(psi_over(rule, *psi));
  PressureRule full;
  full.full_percent = 40;
  EXPECT_TRUE(psi_over(full, *psi));
  psi->has_full = false;
  EXPECT_FALSE(psi_over(full, *psi));
}

std::deque<TimedSample> uss_series(std::initializer_list<std::pair<double, uint64_t>> points) {
  std::deque<TimedSample> series;
  for (auto [t, uss] : points) {
    TimedSample s;
    s.t_s = t;
    s.values.uss = uss;
    series.push_back(s);
  }
  return series;
}

TEST(PressurePick, RecentGrowth) {
  EXPECT_EQ(recent_growth(uss_series({{1, 10 * kPickMiB}}), 10), 0);
  // Over the last 10 s: from t=10 (100 MiB) to t=20 (120 MiB); the early jump is not counted.
  const auto series =
      uss_series({{0, 0}, {10, 100 * kPickMiB}, {15, 110 * kPickMiB}, {20, 120 * kPickMiB}});
  EXPECT_DOUBLE_EQ(recent_growth(series, 10), 2.0 * kPickMiB);
  // A span longer than the series: from its first sample.
  EXPECT_DOUBLE_EQ(recent_growth(series, 100), 6.0 * kPickMiB);
}

TEST(PressurePick, LargestAndFastest) {
  const std::vector<PressureCandidate> pool{
      {200 * kPickMiB, 0}, {500 * kPickMiB, 1000}, {300 * kPickMiB, 5 * kPickMiB}};
  EXPECT_EQ(choose_pressure_victim(PressurePick::largest, pool), 1u);
  EXPECT_EQ(choose_pressure_victim(PressurePick::fastest, pool), 2u);
  // Nothing grows: fastest falls back to the largest.
  const std::vector<PressureCandidate> steady{{200 * kPickMiB, 0}, {500 * kPickMiB, 0}};
  EXPECT_EQ(choose_pressure_victim(PressurePick::fastest, steady), 1u);
  EXPECT_FALSE(choose_pressure_victim(PressurePick::largest, {}));
}

}  // namespace
}  // namespace memvisor
