// series_json: the last N samples in the service's metric, absolute times, the rule sizes and
// the leak slope, and the gauge metric's own series.
#include "supervisor/series_json.h"

#include <gtest/gtest.h>

namespace memvisor {
namespace {

ServiceConfig web_service() {
  ServiceConfig web;
  web.name = "web";
  web.memory.metric = MemoryMetric::rss;
  web.memory.warn = SizeRule{100, std::nullopt};
  web.memory.limit = LimitRule{200, 3, std::nullopt};
  web.memory.critical = SizeRule{300, MemoryMetric(MemoryMetric::pss)};
  return web;
}

std::deque<TimedSample> ramp(int n) {
  std::deque<TimedSample> samples;
  for (int i = 0; i < n; ++i) {
    MemoryValues v{};
    v.rss = 1000 + static_cast<uint64_t>(i);
    v.pss = 5;
    samples.push_back({static_cast<double>(i), v});
  }
  return samples;
}

TEST(SeriesJson, KeepsTheLastPointsInTheServiceMetricWithAbsoluteTimes) {
  const auto samples = ramp(10);
  SeriesUnit unit{.service = "web",
                  .instance = 2,
                  .generation = 1,
                  .pid = 42,
                  .started_at_s = 1000,
                  .samples = &samples};
  const nlohmann::json json = series_json(web_service(), unit, 3);
  EXPECT_EQ(json["unit"], "web.2");
  EXPECT_EQ(json["pid"], 42);
  EXPECT_EQ(json["metric"], "rss");
  EXPECT_EQ(json["values"], nlohmann::json({1007, 1008, 1009}));
  EXPECT_EQ(json["t"], nlohmann::json({1007.0, 1008.0, 1009.0}));
  EXPECT_EQ(json["warn"], 100);
  EXPECT_EQ(json["limit"], 200);
  EXPECT_EQ(json["critical"], 300);
  EXPECT_FALSE(json.contains("warn_metric"));
  EXPECT_EQ(json["critical_metric"], "pss");  // another metric than the series shows
  EXPECT_TRUE(json["leak_rate_bytes_per_hour"].is_null());
  EXPECT_TRUE(json["leak_slope_bytes_per_hour"].is_null());
}

TEST(SeriesJson, FewerSamplesThanPointsGivesThemAll) {
  const auto samples = ramp(2);
  SeriesUnit unit{.service = "web", .instance = 1, .samples = &samples};
  EXPECT_EQ(series_json(web_service(), unit, 120)["values"].size(), 2u);
  // 0 points is read as 1: a reply is never silently empty for a measured unit.
  EXPECT_EQ(series_json(web_service(), unit, 0)["values"].size(), 1u);
}

TEST(SeriesJson, AnUnmeasuredUnitHasEmptyColumnsAndNullSizes) {
  ServiceConfig bare;
  bare.name = "db";
  SeriesUnit unit{.service = "db", .instance = 1};
  const nlohmann::json json = series_json(bare, unit, 120);
  EXPECT_TRUE(json["t"].empty());
  EXPECT_TRUE(json["values"].empty());
  EXPECT_TRUE(json["warn"].is_null());
  EXPECT_TRUE(json["limit"].is_null());
  EXPECT_TRUE(json["critical"].is_null());
  EXPECT_EQ(json["metric"], "pss");
}

TEST(SeriesJson, APreforkChildIsNamedByItsPid) {
  const auto samples = ramp(1);
  SeriesUnit unit{.service = "web", .instance = 1, .child = 777, .pid = 777, .samples = &samples};
  const nlohmann::json json = series_json(web_service(), unit, 120);
  EXPECT_EQ(json["unit"], "web.1/777");
  EXPECT_EQ(json["child"], 777);
}

TEST(SeriesJson, LeakRateAndSlopeOnceJudged) {
  ServiceConfig service = web_service();
  service.memory.leak = LeakRule{};
  service.memory.leak->rate_bytes_per_hour = 10 << 20;
  LeakAssessment leak;
  leak.span_s = 600;
  leak.slope_bytes_per_hour = 12345;
  leak.reason = "growing";
  const auto samples = ramp(1);
  SeriesUnit unit{.service = "web", .instance = 1, .samples = &samples, .leak = &leak};
  nlohmann::json json = series_json(service, unit, 120);
  EXPECT_EQ(json["leak_rate_bytes_per_hour"], 10 << 20);
  EXPECT_EQ(json["leak_slope_bytes_per_hour"], 12345.0);
  EXPECT_EQ(json["leak_reason"], "growing");
  // Nothing judged yet: no slope, the reason still says what it waits for.
  leak.span_s = 0;
  json = series_json(service, unit, 120);
  EXPECT_TRUE(json["leak_slope_bytes_per_hour"].is_null());
  EXPECT_EQ(json["leak_reason"], "growing");
}

TEST(SeriesJson, AGaugeMetricReadsTheGaugeSeries) {
  ServiceConfig service;
  service.name = "q";
  service.memory.metric = MemoryMetric::of_gauge("queue_depth");
  GaugeStore gauges;
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(gauges.set("queue_depth", i * 10.0, i));
    gauges.sample(i, i, 1.0, 100);
  }
  const auto samples = ramp(5);  // the memory series is not what a gauge metric shows
  SeriesUnit unit{
      .service = "q", .instance = 1, .started_at_s = 50, .samples = &samples, .gauges = &gauges};
  const nlohmann::json json = series_json(service, unit, 2);
  EXPECT_EQ(json["metric"], "gauge:queue_depth");
  EXPECT_EQ(json["values"], nlohmann::json({30.0, 40.0}));
  EXPECT_EQ(json["t"], nlohmann::json({53.0, 54.0}));
}

}  // namespace
}  // namespace memvisor
