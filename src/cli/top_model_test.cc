// memvisor top's pure part: rows from the status and series replies, the sort orders and the
// filter, the sparkline in both alphabets, the cells, the events tail and the plain snapshot.
#include "cli/top_model.h"

#include <gtest/gtest.h>

namespace memvisor {
namespace {

nlohmann::json status_reply() {
  return nlohmann::json::parse(R"({
    "controller_pid": 10, "supervisor_pid": 11,
    "services": [{"name":"web","instances":2,"ready":2},{"name":"api","instances":1,"ready":1}],
    "instances": [
      {"service":"web","instance":1,"generation":1,"pid":101,"state":"running","uptime_s":65,
       "restarts":0,"requests":40,"worker":{},"memory":{"pss":1000,"rss":4000}},
      {"service":"web","instance":2,"generation":3,"pid":102,"state":"running","uptime_s":5,
       "restarts":2,"requests":0,"worker":null,"memory":{"pss":3000,"rss":9000}},
      {"service":"api","instance":1,"generation":1,"pid":201,"state":"running","uptime_s":7,
       "restarts":1,"memory":{"pss":2000,"rss":2000},
       "children":[{"unit":"api.1/301","pid":301,"uptime_s":3,"memory":{"pss":500,"rss":800}}]}
    ]})");
}

nlohmann::json series_reply() {
  return nlohmann::json::parse(R"([
    {"service":"web","instance":1,"generation":1,"child":0,"metric":"pss","values":[900,1000],
     "limit":2000,"critical":4000,"leak_slope_bytes_per_hour":5242880},
    {"service":"web","instance":2,"generation":2,"child":0,"metric":"pss","values":[1]},
    {"service":"web","instance":2,"generation":3,"child":0,"metric":"pss","values":[2000,3000],
     "limit":2000,"critical":null,"leak_slope_bytes_per_hour":-1024},
    {"service":"api","instance":1,"generation":1,"child":0,"metric":"rss","values":[2000],
     "limit":4000,"limit_metric":"pss","leak_slope_bytes_per_hour":null},
    {"service":"api","instance":1,"generation":1,"child":301,"metric":"rss","values":[700,800],
     "limit":4000,"limit_metric":"pss"}
  ])");
}

std::vector<std::string> units(const std::vector<TopRow>& rows) {
  std::vector<std::string> out;
  for (const auto& row : rows) out.push_back(row.unit);
  return out;
}

TEST(TopModel, RowsPerInstanceAndChildFromStatusAndSeries) {
  const auto rows = build_top_rows(status_reply(), series_reply());
  ASSERT_EQ(units(rows), (std::vector<std::string>{"web.1", "web.2", "api.1", "api.1/301"}));
  EXPECT_EQ(rows[0].pid, 101);
  EXPECT_EQ(rows[0].series, (std::vector<double>{900, 1000}));
  EXPECT_EQ(*rows[0].memory, 1000);
  EXPECT_EQ(*rows[0].limit, 2000);
  EXPECT_EQ(*rows[0].requests, 40);
  // The series of the current generation, not an earlier process's.
  EXPECT_EQ(*rows[1].memory, 3000);
  EXPECT_FALSE(rows[1].requests.has_value());  // no worker ever connected
  EXPECT_FALSE(rows[1].critical.has_value());
  // A limit on PSS shown against an RSS series: scaled by the latest PSS/RSS (4000 * 2000/2000).
  EXPECT_EQ(rows[2].metric, "rss");
  EXPECT_EQ(*rows[2].limit, 4000);
  EXPECT_EQ(rows[3].state, "child");
  EXPECT_EQ(rows[3].pid, 301);
  EXPECT_EQ(*rows[3].memory, 800);
  EXPECT_EQ(*rows[3].limit, 4000 * 800 / 500);
}

TEST(TopModel, WithoutSeriesTheStatusFiguresStillShow) {
  const auto rows = build_top_rows(status_reply(), nlohmann::json::array());
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(*rows[0].memory, 1000);  // pss from status
  EXPECT_TRUE(rows[0].series.empty());
  EXPECT_FALSE(rows[0].limit.has_value());
}

TEST(TopModel, SortOrdersAndTheirCycle) {
  auto rows = build_top_rows(status_reply(), series_reply());
  sort_top_rows(rows, TopSort::memory);
  EXPECT_EQ(units(rows), (std::vector<std::string>{"web.2", "api.1", "web.1", "api.1/301"}));
  sort_top_rows(rows, TopSort::growth);  // unjudged slopes last, by name
  EXPECT_EQ(units(rows), (std::vector<std::string>{"web.1", "web.2", "api.1", "api.1/301"}));
  sort_top_rows(rows, TopSort::name);
  EXPECT_EQ(units(rows), (std::vector<std::string>{"api.1", "api.1/301", "web.1", "web.2"}));
  sort_top_rows(rows, TopSort::restarts);
  EXPECT_EQ(units(rows), (std::vector<std::string>{"web.2", "api.1", "api.1/301", "web.1"}));
  TopSort sort = TopSort::memory;
  for (const char* name : {"growth", "name", "restarts", "memory"}) {
    sort = next_sort(sort);
    EXPECT_EQ(sort_name(sort), name);
  }
  EXPECT_EQ(previous_sort(TopSort::memory), TopSort::restarts);
  EXPECT_EQ(previous_sort(next_sort(TopSort::name)), TopSort::name);
}

TEST(TopModel, FilterKeepsOneService) {
  auto rows = build_top_rows(status_reply(), series_reply());
  filter_top_rows(rows, "api");
  EXPECT_EQ(units(rows), (std::vector<std::string>{"api.1", "api.1/301"}));
  filter_top_rows(rows, "");
  EXPECT_EQ(rows.size(), 2u);
  filter_top_rows(rows, "nope");
  EXPECT_TRUE(rows.empty());
}

TEST(TopModel, SparklineScalesBetweenMinAndMax) {
  EXPECT_EQ(sparkline({0, 1, 2, 3, 4, 5, 6, 7}, 8, true), "▁▂▃▄▅▆▇█");
  EXPECT_EQ(sparkline({0, 1, 2, 3, 4, 5, 6, 7}, 8, false), "_.-=+*#%");
  // More values than characters: means of equal shares; fewer: right-aligned; flat: a low line.
  EXPECT_EQ(sparkline({0, 2, 10, 10, 10, 10}, 3, false), "_%%");
  EXPECT_EQ(sparkline({0, 0, 0, 4, 8, 8}, 3, false), "_-%");
  EXPECT_EQ(sparkline({5, 5}, 4, false), "  __");
  EXPECT_EQ(sparkline({}, 3, true), "   ");
  EXPECT_EQ(sparkline({1e9, 2e9}, 2, true), "▁█");
  // A 1 % wobble is scaled on a tenth of the maximum: a small step, not the full height.
  EXPECT_EQ(sparkline({100, 101}, 2, false), "_.");
}

TEST(TopModel, Cells) {
  TopRow row;
  EXPECT_EQ(memory_cell(row), "-");
  row.metric = "pss";
  row.memory = 52.5 * 1024 * 1024;
  EXPECT_EQ(memory_cell(row), "52.5 MiB");
  row.metric = "gauge:queue_depth";
  row.memory = 1234;
  EXPECT_EQ(memory_cell(row), "1234");
  row.memory = 0.25;
  EXPECT_EQ(memory_cell(row), "0.25");
  EXPECT_EQ(percent_cell(50, 200), "25%");
  EXPECT_EQ(percent_cell(300, 200), "150%");
  EXPECT_EQ(percent_cell(50, std::nullopt), "-");
  EXPECT_EQ(percent_cell(std::nullopt, 200), "-");
  EXPECT_EQ(slope_cell(row), "-");
  row.slope_per_hour = 1.5 * 1024 * 1024;
  EXPECT_EQ(slope_cell(row), "+1.5 MiB/h");
  row.slope_per_hour = -2048;
  EXPECT_EQ(slope_cell(row), "-2 KiB/h");
}

TEST(TopModel, TableAndTotals) {
  const auto rows = build_top_rows(status_reply(), series_reply());
  const auto lines = top_table_lines(rows, false);
  ASSERT_EQ(lines.size(), 5u);
  EXPECT_EQ(lines[0].rfind("UNIT", 0), 0u);
  for (const char* column : {"STATE", "PID", "UPTIME", "MEMORY", "RECENT", "%LIMIT", "%CRIT",
                             "LEAK", "REQS", "RESTARTS"}) {
    EXPECT_NE(lines[0].find(column), std::string::npos) << column;
  }
  EXPECT_NE(lines[1].find("web.1"), std::string::npos);
  EXPECT_NE(lines[1].find("50%"), std::string::npos);  // 1000 of limit 2000
  EXPECT_NE(lines[1].find("25%"), std::string::npos);  // of critical 4000
  EXPECT_NE(lines[1].find("+5 MiB/h"), std::string::npos);
  EXPECT_NE(lines[1].find("1m5s"), std::string::npos);
  EXPECT_NE(lines[4].find("api.1/301"), std::string::npos);
  for (const auto& line : lines) EXPECT_EQ(line.find('\x1b'), std::string::npos);
  const std::string totals = totals_line(status_reply(), rows);
  EXPECT_NE(totals.find("2 services, 3/3 ready"), std::string::npos) << totals;
  EXPECT_NE(totals.find("1 pre-fork children"), std::string::npos) << totals;
  EXPECT_NE(totals.find("3 restarts"), std::string::npos) << totals;
  // Summed per metric: web's PSS and api's RSS are not added together; api.1's pre-fork child
  // counts (2000 + 800 bytes of RSS).
  EXPECT_NE(totals.find("3.91 KiB pss + 2.73 KiB rss"), std::string::npos) << totals;
}

TEST(TopModel, EventLinesAreTheTailSkippingPartialLines) {
  const std::string text =
      "art\",\"event\":\"x\"}\n"  // the cut first line of a tail
      R"({"ts":"2026-12-05T15:10:45.123Z","event":"started","service":"web","instance":1,"pid":7})"
      "\n"
      R"({"ts":"2026-12-05T15:10:46.000Z","event":"ready","service":"web","instance":2})"
      "\n"
      R"({"ts":"2026-12-05T15:10:47.000Z","event":"exited","service":"web","instance":1,"message":"exited with code 1"})"
      "\n";
  const auto all = event_lines(text, 10);
  ASSERT_EQ(all.size(), 3u);
  EXPECT_EQ(all[0].rfind("15:10:45  web.1: started (pid 7)", 0), 0u) << all[0];
  EXPECT_EQ(all[2], "15:10:47  web.1: exited with code 1");
  const auto last = event_lines(text, 1);
  ASSERT_EQ(last.size(), 1u);
  EXPECT_EQ(last[0], all[2]);
  EXPECT_TRUE(event_lines("", 5).empty());
}

TEST(TopModel, PlainSnapshotLayout) {
  const std::string out = render_plain({"title", "totals"}, {"UNIT  STATE", "web.1  running"}, {});
  EXPECT_EQ(out, "title\ntotals\n\nUNIT  STATE\nweb.1  running\n\nLatest events:\n  (none)\n");
}

}  // namespace
}  // namespace memvisor
