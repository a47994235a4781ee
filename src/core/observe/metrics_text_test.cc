// render_metrics and judge_health on plain snapshots: names, labels, escaping, grouping, and the
// series that appear only when their data exists.
#include "core/observe/metrics_text.h"

#include <gtest/gtest.h>

#include "core/observe/health.h"

namespace memvisor {
namespace {

MetricsSnapshot two_instances() {
  MetricsSnapshot s;
  InstanceMetrics a;
  a.service = "web";
  a.instance = 1;
  a.generation = 3;
  a.state = "running";
  a.up = true;
  a.ready = true;
  a.started_at_s = 1000;
  a.memory = InstanceMemory{4096, 3072, 2048, 0, 1024};
  a.cgroup_memory = 8192;
  a.leak_slope_bytes_per_second = 12.5;
  a.leak_detected = true;
  a.restarts_by_reason = {{"crash", 1}, {"leak", 1}};
  InstanceMetrics b;
  b.service = "web";
  b.instance = 2;
  b.generation = 1;
  b.state = "backoff";
  s.instances = {a, b};
  ServiceMetrics web;
  web.name = "web";
  web.desired = 2;
  web.ready = 1;
  web.not_ready = {"web.2 (backoff)"};
  web.memory = InstanceMemory{4096, 3072, 2048, 0};
  s.services = {web};
  return s;
}

bool contains(const std::string& text, const std::string& line) {
  return text.find(line) != std::string::npos;
}

TEST(MetricsText, InstanceSeries) {
  const std::string text = render_metrics(two_instances(), 1060.5, {});
  EXPECT_TRUE(contains(text, "# TYPE memvisor_instance_memory_bytes gauge\n"));
  EXPECT_TRUE(contains(
      text, "memvisor_instance_memory_bytes{service=\"web\",instance=\"1\",kind=\"rss\"} 4096\n"));
  EXPECT_TRUE(contains(
      text, "memvisor_instance_memory_bytes{service=\"web\",instance=\"1\",kind=\"pss\"} 3072\n"));
  EXPECT_TRUE(contains(
      text, "memvisor_instance_memory_bytes{service=\"web\",instance=\"1\",kind=\"uss\"} 2048\n"));
  EXPECT_TRUE(contains(
      text, "memvisor_instance_memory_bytes{service=\"web\",instance=\"1\",kind=\"swap\"} 0\n"));
  EXPECT_TRUE(contains(
      text, "memvisor_instance_memory_bytes{service=\"web\",instance=\"1\",kind=\"anon\"} 1024\n"));
  // Its cgroup was measured (cgroup = true or metric = "cgroup"); a service has no such sum.
  EXPECT_TRUE(contains(
      text,
      "memvisor_instance_memory_bytes{service=\"web\",instance=\"1\",kind=\"cgroup\"} 8192\n"));
  EXPECT_FALSE(contains(text, "memvisor_service_memory_bytes{service=\"web\",kind=\"cgroup\"}"));
  // No sample yet: no memory series rather than a made-up zero.
  EXPECT_FALSE(contains(text, "memvisor_instance_memory_bytes{service=\"web\",instance=\"2\""));
  EXPECT_TRUE(contains(
      text,
      "memvisor_instance_leak_slope_bytes_per_second{service=\"web\",instance=\"1\"} 12.5\n"));
  EXPECT_TRUE(
      contains(text, "memvisor_instance_leak_detected{service=\"web\",instance=\"1\"} 1\n"));
  EXPECT_FALSE(contains(text, "memvisor_instance_leak_detected{service=\"web\",instance=\"2\"}"));
  EXPECT_TRUE(contains(text, "memvisor_instance_up{service=\"web\",instance=\"1\"} 1\n"));
  EXPECT_TRUE(contains(text, "memvisor_instance_up{service=\"web\",instance=\"2\"} 0\n"));
  EXPECT_TRUE(contains(text, "memvisor_instance_ready{service=\"web\",instance=\"2\"} 0\n"));
  EXPECT_TRUE(
      contains(text, "memvisor_instance_uptime_seconds{service=\"web\",instance=\"1\"} 60.5\n"));
  EXPECT_FALSE(contains(text, "memvisor_instance_uptime_seconds{service=\"web\",instance=\"2\"}"));
  EXPECT_TRUE(contains(text, "memvisor_instance_generation{service=\"web\",instance=\"1\"} 3\n"));
  EXPECT_TRUE(contains(text, "# TYPE memvisor_instance_restarts_total counter\n"));
  EXPECT_TRUE(contains(
      text,
      "memvisor_instance_restarts_total{service=\"web\",instance=\"1\",reason=\"crash\"} 1\n"));
  EXPECT_TRUE(contains(
      text,
      "memvisor_instance_restarts_total{service=\"web\",instance=\"1\",reason=\"leak\"} 1\n"));
}

TEST(MetricsText, RecyclesAndTheCircuit) {
  MetricsSnapshot s = two_instances();
  s.instances[0].recycles_by_reason = {{"leak", 1}};
  s.instances[0].child_recycles_by_reason = {{"limit", 4}};
  s.instances[1].circuit = "open";
  s.instances[1].consecutive_failures = 5;
  const std::string text = render_metrics(s, 1060, {});
  EXPECT_TRUE(contains(text, "# TYPE memvisor_instance_recycles_total counter\n"));
  EXPECT_TRUE(contains(
      text,
      "memvisor_instance_recycles_total{service=\"web\",instance=\"1\",reason=\"leak\"} 1\n"));
  EXPECT_FALSE(contains(text, "memvisor_instance_recycles_total{service=\"web\",instance=\"2\""));
  EXPECT_TRUE(contains(text,
                       "memvisor_instance_child_recycles_total{service=\"web\",instance=\"1\","
                       "reason=\"limit\"} 4\n"));
  // An enum: every state has a series, the current one is 1.
  EXPECT_TRUE(contains(
      text,
      "memvisor_instance_circuit_state{service=\"web\",instance=\"1\",state=\"closed\"} 1\n"));
  EXPECT_TRUE(contains(
      text, "memvisor_instance_circuit_state{service=\"web\",instance=\"1\",state=\"open\"} 0\n"));
  EXPECT_TRUE(contains(
      text, "memvisor_instance_circuit_state{service=\"web\",instance=\"2\",state=\"open\"} 1\n"));
  EXPECT_TRUE(contains(text,
                       "memvisor_instance_circuit_state{service=\"web\",instance=\"2\",state="
                       "\"half-open\"} 0\n"));
  EXPECT_TRUE(
      contains(text, "memvisor_instance_consecutive_failures{service=\"web\",instance=\"2\"} 5\n"));
}

TEST(MetricsText, RuleThresholds) {
  MetricsSnapshot s = two_instances();
  EXPECT_FALSE(contains(render_metrics(s, 0, {}), "memvisor_service_leak_rate_bytes_per_second{"));
  s.services[0].leak_rate_bytes_per_second = 2912.711111;
  s.services[0].thresholds = {{"limit", "pss", 524288000}, {"critical", "rss", 1073741824}};
  const std::string text = render_metrics(s, 0, {});
  EXPECT_TRUE(contains(text, "# TYPE memvisor_service_leak_rate_bytes_per_second gauge\n"));
  EXPECT_TRUE(
      contains(text, "memvisor_service_leak_rate_bytes_per_second{service=\"web\"} 2912.711111\n"));
  EXPECT_TRUE(contains(text,
                       "memvisor_service_memory_threshold_bytes{service=\"web\",rule=\"limit\","
                       "kind=\"pss\"} 524288000\n"));
  EXPECT_TRUE(contains(text,
                       "memvisor_service_memory_threshold_bytes{service=\"web\",rule=\"critical\","
                       "kind=\"rss\"} 1073741824\n"));
}

TEST(MetricsText, SupervisorRestarts) {
  MetricsSnapshot s = two_instances();
  EXPECT_FALSE(contains(render_metrics(s, 0, {}), "memvisor_supervisor_restarts_total"));
  s.supervisor_restarts = 2;
  const std::string text = render_metrics(s, 0, {});
  EXPECT_TRUE(contains(text, "# TYPE memvisor_supervisor_restarts_total counter\n"));
  EXPECT_TRUE(contains(text, "\nmemvisor_supervisor_restarts_total 2\n"));
}

TEST(MetricsText, ServiceSeries) {
  const std::string text = render_metrics(two_instances(), 1060, {});
  EXPECT_TRUE(contains(text, "memvisor_service_memory_bytes{service=\"web\",kind=\"pss\"} 3072\n"));
  EXPECT_TRUE(contains(text, "memvisor_service_ready_instances{service=\"web\"} 1\n"));
  EXPECT_TRUE(contains(text, "memvisor_service_desired_instances{service=\"web\"} 2\n"));
}

TEST(MetricsText, RequestsOnlyWhenReported) {
  MetricsSnapshot s = two_instances();
  EXPECT_FALSE(contains(render_metrics(s, 0, {}), "memvisor_requests_total"));
  s.instances[0].requests_total = 17;
  const std::string text = render_metrics(s, 0, {});
  EXPECT_TRUE(contains(text, "# TYPE memvisor_requests_total counter\n"));
  EXPECT_TRUE(contains(text, "memvisor_requests_total{service=\"web\",instance=\"1\"} 17\n"));
  EXPECT_FALSE(contains(text, "memvisor_requests_total{service=\"web\",instance=\"2\"}"));
}

TEST(MetricsText, PreforkChildrenHaveFamiliesOfTheirOwn) {
  MetricsSnapshot s = two_instances();
  EXPECT_FALSE(contains(render_metrics(s, 1060, {}), "memvisor_child_"));
  ChildMetrics child;
  child.service = "web";
  child.instance = 1;
  child.pid = 4242;
  child.started_at_s = 1050;
  child.memory = InstanceMemory{8192, 6144, 4096, 0};
  child.leak_slope_bytes_per_second = 2.5;
  ChildMetrics unmeasured = child;
  unmeasured.pid = 4243;
  unmeasured.memory.reset();
  unmeasured.leak_slope_bytes_per_second.reset();
  s.children = {child, unmeasured};
  const std::string text = render_metrics(s, 1060, {});
  EXPECT_TRUE(contains(text, "# TYPE memvisor_child_memory_bytes gauge\n"));
  EXPECT_TRUE(contains(text,
                       "memvisor_child_memory_bytes{service=\"web\",instance=\"1\",child=\"4242\","
                       "kind=\"pss\"} 6144\n"));
  EXPECT_FALSE(
      contains(text, "memvisor_child_memory_bytes{service=\"web\",instance=\"1\",child=\"4243\""));
  EXPECT_TRUE(contains(text,
                       "memvisor_child_leak_slope_bytes_per_second{service=\"web\",instance=\"1\","
                       "child=\"4242\"} 2.5\n"));
  EXPECT_TRUE(contains(
      text, "memvisor_child_uptime_seconds{service=\"web\",instance=\"1\",child=\"4243\"} 10\n"));
  // The instance's own series stay as they were: the master's figures.
  EXPECT_TRUE(contains(
      text, "memvisor_instance_memory_bytes{service=\"web\",instance=\"1\",kind=\"pss\"} 3072\n"));
}

TEST(MetricsText, OwnProcesses) {
  const std::string text = render_metrics(
      {}, 0, {{"controller", 2097152, 0.25, 1.7e9}, {"supervisor", 8388608, 1.5, 1.7e9 + 1}});
  EXPECT_TRUE(contains(text, "# TYPE process_cpu_seconds_total counter\n"));
  EXPECT_TRUE(contains(text, "process_resident_memory_bytes{process=\"controller\"} 2097152\n"));
  EXPECT_TRUE(contains(text, "process_cpu_seconds_total{process=\"supervisor\"} 1.5\n"));
  EXPECT_TRUE(contains(text, "process_start_time_seconds{process=\"supervisor\"} 1700000001\n"));
}

TEST(MetricsText, EveryFamilyIsOneBlockWithHelpAndType) {
  const std::string text = render_metrics(two_instances(), 1060, {{"controller", 1, 1, 1}});
  std::vector<std::string> seen;
  size_t start = 0;
  std::string current;
  while (start < text.size()) {
    const size_t end = text.find('\n', start);
    ASSERT_NE(end, std::string::npos) << "the last line must end with a newline";
    const std::string line = text.substr(start, end - start);
    start = end + 1;
    if (line.rfind("# HELP ", 0) == 0) {
      current = line.substr(7, line.find(' ', 7) - 7);
      for (const auto& name : seen) EXPECT_NE(name, current) << "family split in two: " << name;
      seen.push_back(current);
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) {
      EXPECT_EQ(line.substr(7, current.size()), current);
      continue;
    }
    EXPECT_EQ(line.substr(0, current.size()), current) << line;
  }
  EXPECT_GE(seen.size(), 12u);
}

TEST(MetricsText, LabelValuesAreEscaped) {
  EXPECT_EQ(escape_label_value("plain"), "plain");
  EXPECT_EQ(escape_label_value("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
  MetricsSnapshot s = two_instances();
  s.instances[0].restarts_by_reason = {{"odd \"reason\"\n", 2}};
  EXPECT_TRUE(contains(render_metrics(s, 0, {}), "reason=\"odd \\\"reason\\\"\\n\"} 2\n"));
}

TEST(MetricsText, SpecialValues) {
  MetricsSnapshot s = two_instances();
  s.instances[0].leak_slope_bytes_per_second = -0.5;
  EXPECT_TRUE(contains(render_metrics(s, 0, {}), "instance=\"1\"} -0.5\n"));
  s.instances[0].leak_slope_bytes_per_second = std::numeric_limits<double>::infinity();
  EXPECT_TRUE(contains(render_metrics(s, 0, {}), "instance=\"1\"} +Inf\n"));
}

TEST(Health, HealthyWhenEveryServiceHasItsInstances) {
  MetricsSnapshot s = two_instances();
  s.services[0].ready = 2;
  s.services[0].not_ready.clear();
  const HealthVerdict verdict = judge_health(s);
  EXPECT_TRUE(verdict.healthy);
  EXPECT_EQ(verdict.body, "ok: 1 service, 2/2 instances ready\n");
}

TEST(Health, UnhealthyNamesTheReason) {
  MetricsSnapshot s = two_instances();
  ServiceMetrics jobs;
  jobs.name = "jobs";
  jobs.desired = 1;
  jobs.ready = 1;
  s.services.push_back(jobs);
  const HealthVerdict verdict = judge_health(s);
  EXPECT_FALSE(verdict.healthy);
  EXPECT_EQ(verdict.body, "web: 1/2 ready (1 not ready: web.2 (backoff))\n");
}

TEST(Health, NoServicesIsVacuouslyHealthy) {
  // The supervisor answers 503 itself before it has the controller's snapshot.
  EXPECT_TRUE(judge_health({}).healthy);
}

TEST(MetricsText, Pressure) {
  MetricsSnapshot s = two_instances();
  EXPECT_FALSE(contains(render_metrics(s, 0, {}), "memvisor_pressure"));
  PressureMetrics& p = s.pressure.emplace();
  p.trigger = true;
  p.fires = 3;
  p.recycles = 2;
  p.some_avg10 = 12.5;
  const std::string text = render_metrics(s, 0, {});
  EXPECT_TRUE(contains(text, "\nmemvisor_pressure_fires_total 3\n"));
  EXPECT_TRUE(contains(text, "\nmemvisor_pressure_recycles_total 2\n"));
  EXPECT_TRUE(contains(text, "\nmemvisor_pressure_trigger_armed 1\n"));
  EXPECT_TRUE(contains(text, "\nmemvisor_pressure_stall_ratio{kind=\"some\"} 0.125\n"));
  EXPECT_FALSE(contains(text, "kind=\"full\""));
}

}  // namespace
}  // namespace memvisor
