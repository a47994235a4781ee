// Gauges: names, the per-process bound, freshness, the series, the `gauge:NAME` metric in config
// files and JSON, and the memory rules reading a gauge.
#include "core/rules/gauge_store.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/config/config_json.h"
#include "core/config/config_test_text.h"
#include "core/rules/memory_rules.h"

namespace memvisor {
namespace {

TEST(GaugeNames, FollowPrometheus) {
  for (const char* good : {"heap_used_bytes", "a", "_x", "ns:queue_depth", "X9_:z"}) {
    EXPECT_TRUE(valid_gauge_name(good)) << good;
  }
  for (const char* bad : {"", "9lives", "has space", "dash-ed", "dot.ted", "ünï", "a\n"}) {
    EXPECT_FALSE(valid_gauge_name(bad)) << bad;
  }
  EXPECT_TRUE(valid_gauge_name(std::string(128, 'a')));
  EXPECT_FALSE(valid_gauge_name(std::string(129, 'a')));
}

TEST(GaugeStore, LatestWinsAndNamesAreBounded) {
  GaugeStore store;
  for (int i = 0; i < 100000; ++i) EXPECT_TRUE(store.set("flood", i, 1.0));
  EXPECT_EQ(store.all().at("flood").value, 99999);
  for (size_t i = 1; i < GaugeStore::kMaxNames; ++i) {
    EXPECT_TRUE(store.set("g" + std::to_string(i), 1, 1.0));
  }
  EXPECT_TRUE(store.full_for("another"));
  EXPECT_FALSE(store.set("another", 1, 1.0));
  EXPECT_FALSE(store.full_for("flood"));  // a known name still updates
  EXPECT_TRUE(store.set("flood", 5, 1.0));
  EXPECT_EQ(store.all().size(), GaugeStore::kMaxNames);
}

TEST(GaugeStore, StaleAfterThreePeriods) {
  GaugeStore store;
  store.set("heap", 10, 100.0);
  EXPECT_EQ(store.fresh("heap", 102.9, 1.0), 10);  // 1 s interval: fresh for 3 s
  EXPECT_FALSE(store.fresh("heap", 103.1, 1.0));
  EXPECT_FALSE(store.fresh("never", 100.0, 1.0));
  // A gauge reported every 10 s (an exec monitor) stays fresh for 30 s on a 1 s interval.
  store.set("slow", 1, 100.0);
  store.set("slow", 2, 110.0);
  EXPECT_EQ(store.fresh("slow", 135.0, 1.0), 2);
  EXPECT_FALSE(store.fresh("slow", 141.0, 1.0));
}

TEST(GaugeStore, SeriesTakesOneValuePerRoundWhileFresh) {
  GaugeStore store;
  store.set("heap", 1, 0.0);
  store.set("heap", 2, 0.01);  // a burst within one round: one point, the latest
  store.sample(1.0, 0.5, 1.0, 3);
  store.sample(2.0, 10.0, 1.0, 3);  // stale by then: no point
  store.set("heap", 3, 10.5);
  for (double t = 3; t < 8; ++t) store.sample(t, 10.6, 1.0, 3);
  const auto& series = store.all().at("heap").series;
  ASSERT_EQ(series.size(), 3u);  // bounded by max_points
  EXPECT_EQ(series.front().t_s, 5.0);
  EXPECT_EQ(series.back().value, 3);
}

TEST(GaugeMetric, ParsesInConfigFiles) {
  const Config config =
      config_ok(web_service("metric = \"gauge:heap_used_bytes\"\nleak = \"10MiB/h\"\n"
                            "limit = { size = 1000, metric = \"gauge:queue_depth\" }\n"
                            "warn = { metric = \"gauge:heap_used_bytes\", size = \"512MiB\" }\n"));
  ASSERT_EQ(config.services.size(), 1u);
  const MemoryRules& m = config.services[0].memory;
  EXPECT_EQ(m.metric, MemoryMetric::of_gauge("heap_used_bytes"));
  EXPECT_EQ(m.limit->size, 1000u);
  EXPECT_EQ(*m.limit->metric, MemoryMetric::of_gauge("queue_depth"));
  EXPECT_EQ(m.warn->size, 512u << 20);
  // Through the JSON hand-off to the supervisor and back.
  const auto json = config_to_json(config);
  auto back = config_from_json(json);
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(*back->services[0].memory.limit->metric, MemoryMetric::of_gauge("queue_depth"));
  EXPECT_EQ(back->services[0].memory.metric, MemoryMetric::of_gauge("heap_used_bytes"));
}

TEST(GaugeMetric, BadNamesAreLocated) {
  EXPECT_EQ(config_error(web_service("limit = { size = 10, metric = \"gauge:9lives\" }\n")),
            "web.toml:3:31: service.web.limit.metric: expected gauge:NAME with NAME matching "
            "[a-zA-Z_:][a-zA-Z0-9_:]* (at most 128 characters), got 'gauge:9lives'");
  EXPECT_EQ(config_error(web_service("metric = \"gauge:\"\n")),
            "web.toml:3:10: service.web.metric: expected gauge:NAME with NAME matching "
            "[a-zA-Z_:][a-zA-Z0-9_:]* (at most 128 characters), got 'gauge:'");
  EXPECT_EQ(config_error(web_service("limit = { size = -1, metric = \"gauge:q\" }\n")),
            "web.toml:3:18: service.web.limit.size: expected a number of at least 0, got -1");
  EXPECT_NE(config_error(web_service("total = { size = \"1GiB\", metric = \"gauge:q\" }\n"))
                .find("the total rule sums memory over instances and cannot read a gauge"),
            std::string::npos);
}

ServiceConfig gauge_limit(uint64_t size, int samples) {
  ServiceConfig service;
  service.memory.limit = LimitRule{size, samples, MemoryMetric::of_gauge("queue_depth")};
  return service;
}

TEST(GaugeRules, LimitReadsTheGaugeAndWaitsWithoutIt) {
  const ServiceConfig service = gauge_limit(1000, 2);
  ProcessRules rules(service, 0);
  EXPECT_EQ(rules.gauges_read(), std::vector<std::string>{"queue_depth"});
  MemoryValues memory;
  memory.pss = uint64_t{1} << 40;  // memory far above the size: not what the rule reads
  const GaugeValues none;
  EXPECT_TRUE(rules.on_sample(0, memory, &none).empty());
  EXPECT_TRUE(rules.on_sample(1, memory, nullptr).empty());
  const GaugeValues high{{"queue_depth", 1500.5}};
  EXPECT_TRUE(rules.on_sample(2, memory, &high).empty());  // 1 of 2
  EXPECT_TRUE(rules.on_sample(3, memory, &none).empty());  // stale: not judged, count kept
  auto decisions = rules.on_sample(4, memory, &high);
  ASSERT_EQ(decisions.size(), 1u);
  EXPECT_EQ(decisions[0].rule, "limit");
  EXPECT_EQ(decisions[0].metric, "gauge:queue_depth");
  EXPECT_EQ(decisions[0].value, 1500.5);
  EXPECT_EQ(decisions[0].message, "gauge:queue_depth 1500.5 above limit 1000 for 2 samples");
}

TEST(GaugeRules, LowGaugeNeverActs) {
  const ServiceConfig service = gauge_limit(1000, 1);
  ProcessRules rules(service, 0);
  const GaugeValues low{{"queue_depth", 999}};
  for (int t = 0; t < 100; ++t) EXPECT_TRUE(rules.on_sample(t, MemoryValues{}, &low).empty());
  const GaugeValues nan{{"queue_depth", std::nan("")}};
  EXPECT_TRUE(rules.on_sample(100, MemoryValues{}, &nan).empty());
}

TEST(GaugeRules, LeakOnAGaugeInBytes) {
  ServiceConfig service;
  service.memory.metric = MemoryMetric::of_gauge("heap_used_bytes");
  service.memory.leak = LeakRule{10u << 20, LeakAction::alert, Millis{0}, {}, Millis{0}};
  ProcessRules leaking(service, 0), flat(service, 0);
  std::optional<RuleDecision> found;
  for (double t = 0; t < 4 * 3600 && !found; t += 10) {
    // RSS stays flat: only the gauge grows, 60 MiB/h.
    const GaugeValues grows{{"heap_used_bytes", 50.0 * (1 << 20) + t * 60.0 * (1 << 20) / 3600}};
    for (auto& d : leaking.on_sample(t, MemoryValues{}, &grows)) found = d;
    const GaugeValues same{{"heap_used_bytes", 50.0 * (1 << 20)}};
    EXPECT_TRUE(flat.on_sample(t, MemoryValues{}, &same).empty());
  }
  ASSERT_TRUE(found.has_value());
  EXPECT_EQ(found->rule, "leak");
  EXPECT_EQ(found->metric, "gauge:heap_used_bytes");
}

}  // namespace
}  // namespace memvisor
