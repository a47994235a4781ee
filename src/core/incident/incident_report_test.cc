// Incident ids, the summary text, incident.json and memory.csv from plain values.
#include "core/incident/incident_report.h"

#include <gtest/gtest.h>

#include <cmath>

#include "core/rules/trace_csv.h"

namespace memvisor {
namespace {

IncidentFacts leak_facts() {
  IncidentFacts facts;
  facts.time = from_unix_seconds(1795375812.25);  // 2026-11-22T19:30:12.250Z
  facts.trigger = "leak";
  facts.service = "web";
  facts.instance = 1;
  facts.generation = 3;
  facts.pid = 4242;
  facts.id = incident_id(facts.time, facts.service, facts.instance, facts.trigger);
  RuleDecision decision;
  decision.rule = "leak";
  decision.action = "recycle";
  decision.metric = "pss";
  decision.value = 20.0 * (1 << 20);
  decision.threshold = 10.0 * (1 << 20);
  decision.slope_bytes_per_hour = 20.0 * (1 << 20);
  decision.message = "pss floor grows 20 MiB/h";
  facts.decision = decision;
  facts.action = "recycled gracefully: the replacement first, this process once it is ready";
  facts.uptime_s = 3723;
  facts.memory = {.rss = 200u << 20, .pss = 150u << 20, .uss = 140u << 20};
  facts.cmdline = "python3 app.py";
  facts.samples = 2;
  facts.files = {"summary.txt", "memory.csv"};
  return facts;
}

TEST(IncidentReport, IdIsSortableAndSafe) {
  const IncidentFacts facts = leak_facts();
  EXPECT_EQ(facts.id, "20261122-193012-web.1-leak");
  EXPECT_TRUE(is_valid_incident_id(facts.id));
  EXPECT_FALSE(is_valid_incident_id(""));
  EXPECT_FALSE(is_valid_incident_id(".."));
  EXPECT_FALSE(is_valid_incident_id("../etc"));
  EXPECT_FALSE(is_valid_incident_id("a/b"));
  EXPECT_FALSE(is_valid_incident_id(".tmp-x"));
  EXPECT_FALSE(is_valid_incident_id(std::string(201, 'a')));
}

TEST(IncidentReport, SummarySaysWhatWhenWhichRuleMemoryAndAction) {
  const std::string summary = incident_summary(leak_facts());
  EXPECT_NE(summary.find("memvisor incident 20261122-193012-web.1-leak"), std::string::npos);
  EXPECT_NE(summary.find("web.1 (pid 4242, generation 3)"), std::string::npos);
  EXPECT_NE(summary.find("2026-11-22T19:30:12.250Z"), std::string::npos);
  EXPECT_NE(summary.find("leak: pss grows 20 MiB/h against a rate of 10 MiB/h"), std::string::npos)
      << summary;
  EXPECT_NE(summary.find("rss 200 MiB, pss 150 MiB, uss 140 MiB"), std::string::npos);
  EXPECT_NE(summary.find("uptime:     1h2m"), std::string::npos) << summary;
  EXPECT_NE(summary.find("recycled gracefully"), std::string::npos);
  EXPECT_NE(summary.find("files:      summary.txt memory.csv"), std::string::npos) << summary;
}

TEST(IncidentReport, DumpHasNoRule) {
  IncidentFacts facts = leak_facts();
  facts.decision.reset();
  facts.trigger = "dump";
  EXPECT_NE(incident_summary(facts).find("none (an operator asked"), std::string::npos);
  EXPECT_TRUE(incident_json(facts)["rule"].is_null());
}

TEST(IncidentReport, SaysWhatTheHeapSampleHoldsOrWhyThereIsNone) {
  IncidentFacts facts = leak_facts();
  EXPECT_EQ(incident_summary(facts).find("heap:"), std::string::npos);  // no sample was due
  EXPECT_FALSE(incident_json(facts).contains("heap_sample"));
  facts.heap_sample = "none: heap_sampler is off for this service";
  EXPECT_NE(
      incident_summary(facts).find("\nheap:       none: heap_sampler is off for this service\n"),
      std::string::npos)
      << incident_summary(facts);
  EXPECT_EQ(incident_json(facts)["heap_sample"], "none: heap_sampler is off for this service");
}

TEST(IncidentReport, JsonCarriesTheDecision) {
  const auto document = incident_json(leak_facts());
  EXPECT_EQ(document["id"], "20261122-193012-web.1-leak");
  EXPECT_EQ(document["rule"]["rule"], "leak");
  EXPECT_EQ(document["rule"]["slope_bytes_per_hour"], 20.0 * (1 << 20));
  EXPECT_EQ(document["memory"]["pss"], 150u << 20);
  EXPECT_EQ(document["uptime_s"], 3723);
}

TEST(IncidentReport, CsvReadsBackAsATrace) {
  std::deque<TimedSample> samples{{0.5, {.rss = 1000, .pss = 900}},
                                  {1.5, {.rss = 2000, .pss = 1800}}};
  const std::string csv = memory_csv(samples);
  EXPECT_EQ(csv, "t_s,rss,pss,uss,swap,anon\n0.500,1000,900,0,0,0\n1.500,2000,1800,0,0,0\n");
  auto trace = parse_trace_csv(csv, "memory.csv");
  ASSERT_TRUE(trace) << trace.error().describe();
  EXPECT_EQ(trace->t_s.size(), 2u);
}

TEST(IncidentReport, CsvCarriesGaugesBesideTheirMemorySamples) {
  // The gauge came after the first sample, and missed the third (stale there).
  std::deque<TimedSample> samples{
      {0.5, {.rss = 1000}}, {1.5, {.rss = 2000}}, {2.5, {.rss = 3000}}, {3.5, {.rss = 4000}}};
  GaugeSeries gauges{{"queue_depth", {{1.5, 10}, {3.5, 1200.5}}}, {"z_other", {{0.5, 7}}}};
  const std::string csv = memory_csv(samples, gauges);
  EXPECT_EQ(csv,
            "t_s,rss,pss,uss,swap,anon,gauge:queue_depth,gauge:z_other\n"
            "0.500,1000,0,0,0,0,,7\n"
            "1.500,2000,0,0,0,0,10,\n"
            "2.500,3000,0,0,0,0,,\n"
            "3.500,4000,0,0,0,0,1200.5,\n");
  auto trace = parse_trace_csv(csv, "memory.csv");
  ASSERT_TRUE(trace) << trace.error().describe();
  const int column = trace->column("gauge:queue_depth");
  ASSERT_GE(column, 0);
  EXPECT_EQ(trace->values[3][static_cast<size_t>(column)], 1200.5);
  EXPECT_TRUE(std::isnan(trace->values[2][static_cast<size_t>(column)]));
}

TEST(IncidentReport, ARuleOnAGaugeIsDescribedInTheGaugesUnit) {
  RuleDecision d;
  d.rule = "critical";
  d.metric = "gauge:queue_depth";
  d.threshold = 1000;
  d.value = 1200;
  EXPECT_EQ(describe_decision(d), "critical = 1000 (gauge:queue_depth), measured 1200");
  d.metric = "pss";
  d.threshold = 1 << 30;
  d.value = 1.5 * (1 << 30);
  EXPECT_EQ(describe_decision(d), "critical = 1 GiB (pss), measured 1.5 GiB");
}

TEST(IncidentReport, SummaryAndJsonNameTheGauges) {
  IncidentFacts facts = leak_facts();
  facts.gauges = {{"queue_depth", 1200}, {"heap_used_bytes", 5e7}};
  EXPECT_NE(incident_summary(facts).find("gauges:     heap_used_bytes 50000000, queue_depth 1200 "
                                         "(series in memory.csv, gauge:NAME columns)\n"),
            std::string::npos)
      << incident_summary(facts);
  EXPECT_EQ(incident_json(facts)["gauges"]["queue_depth"], 1200);
  EXPECT_FALSE(incident_json(leak_facts()).contains("gauges"));
}

TEST(IncidentReport, ChartHasThresholdsOfTheRules) {
  MemoryRules rules;
  rules.warn = SizeRule{40u << 20, std::nullopt};
  rules.critical = SizeRule{100u << 20, MemoryMetric::rss};
  std::deque<TimedSample> samples{{0, {.rss = 1, .pss = 1}}, {1, {.rss = 2, .pss = 2}}};
  const ChartInput chart = incident_chart(leak_facts(), samples, &rules);
  EXPECT_EQ(chart.title, "web.1 — leak");
  ASSERT_EQ(chart.thresholds.size(), 2u);
  EXPECT_EQ(chart.thresholds[0].label, "warn (pss)");
  EXPECT_EQ(chart.thresholds[1].label, "critical (rss)");
  EXPECT_EQ(chart.series.size(), 3u);  // rss, pss, uss; swap is all zero
}

}  // namespace
}  // namespace memvisor
