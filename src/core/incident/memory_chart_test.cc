// The incident chart: round ticks with human labels, thresholds drawn and labelled, escaped text.
// The rendering itself is looked at as a PNG (README, "Incidents"); these pin its structure.
#include "core/incident/memory_chart.h"

#include <gtest/gtest.h>

namespace memvisor {
namespace {

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(MemoryChart, TimeTicksAreRoundSecondsMinutesOrHours) {
  EXPECT_EQ(time_ticks(0, 10, 5), (std::vector<double>{0, 2, 4, 6, 8, 10}));
  EXPECT_EQ(time_ticks(0, 300, 8), (std::vector<double>{0, 60, 120, 180, 240, 300}));
  EXPECT_EQ(time_ticks(95, 185, 4), (std::vector<double>{120, 150, 180}));
  const auto day = time_ticks(0, 86400, 8);
  ASSERT_GE(day.size(), 2u);
  EXPECT_EQ(day[1], 10800);  // 3h
  EXPECT_TRUE(time_ticks(5, 5, 8).empty());
}

TEST(MemoryChart, TickLabelsAreHuman) {
  EXPECT_EQ(time_tick_label(0), "0");
  EXPECT_EQ(time_tick_label(30), "30s");
  EXPECT_EQ(time_tick_label(90), "1m30s");
  EXPECT_EQ(time_tick_label(7200), "2h");
  EXPECT_EQ(time_tick_label(0.5), "500ms");
  const double mib = 1 << 20;
  EXPECT_EQ(byte_tick_label(0, 20 * mib), "0");
  EXPECT_EQ(byte_tick_label(40 * mib, 20 * mib), "40 MiB");
  EXPECT_EQ(byte_tick_label(1536 * mib, 512 * mib), "1.5 GiB");
  EXPECT_EQ(byte_tick_label(2048 * mib, 512 * mib), "2.0 GiB");
}

TEST(MemoryChart, ByteTicksUseOneBinaryUnit) {
  const double mib = 1 << 20;
  const auto ticks = byte_ticks(130 * mib, 6);
  ASSERT_GE(ticks.size(), 2u);
  EXPECT_EQ(ticks[0], 0);
  EXPECT_EQ(ticks[1], 20 * mib);
  EXPECT_GE(ticks.back(), 120 * mib);
  EXPECT_TRUE(byte_ticks(0, 6).empty());
}

TEST(MemoryChart, DrawsSeriesThresholdsAndEscapedTitle) {
  ChartInput input;
  input.title = "web.1 <leak> & more";
  input.subtitle = "pid 42";
  ChartSeries pss{"pss", "#1f77b4", {}};
  for (int i = 0; i <= 60; ++i) pss.points.emplace_back(i, (10 + i) * 1048576.0);
  input.series.push_back(pss);
  input.series.push_back({"rss", "#ff7f0e", {{0, 20e6}, {60, 90e6}}});
  input.thresholds = {{"limit", 80u << 20, "#d62728"}, {"warn", 60u << 20, "#bcbd22"}};
  const std::string svg = render_memory_chart(input);
  EXPECT_EQ(svg.rfind("<svg", 0), 0u);
  EXPECT_NE(svg.find("</svg>"), std::string::npos);
  EXPECT_NE(svg.find("web.1 &lt;leak&gt; &amp; more"), std::string::npos);
  EXPECT_EQ(count(svg, "<polyline"), 2u);
  EXPECT_EQ(count(svg, "stroke-dasharray"), 2u);
  EXPECT_NE(svg.find(">limit 80 MiB<"), std::string::npos);
  EXPECT_NE(svg.find(">warn 60 MiB<"), std::string::npos);
  EXPECT_NE(svg.find(">pss 70 MiB<"), std::string::npos);  // the legend gives the last value
  EXPECT_NE(svg.find(">1m<"), std::string::npos);          // a time tick
  EXPECT_NE(svg.find(">40 MiB<"), std::string::npos);      // a byte tick
}

TEST(MemoryChart, NoSamplesSaysSo) {
  const std::string svg = render_memory_chart({"web.1", "", {}, {}});
  EXPECT_NE(svg.find("no samples"), std::string::npos);
  EXPECT_EQ(count(svg, "<polyline"), 0u);
}

}  // namespace
}  // namespace memvisor
