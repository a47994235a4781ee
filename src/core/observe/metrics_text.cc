#include "core/observe/metrics_text.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <utility>

namespace memvisor {
namespace {

using Labels = std::vector<std::pair<std::string_view, std::string>>;

// One metric family: its HELP and TYPE lines, then every sample, as the format requires.
class Family {
 public:
  Family(std::string& out, std::string_view name, std::string_view type, std::string_view help)
      : out_(out), name_(name) {
    fmt::format_to(std::back_inserter(out_), "# HELP {} {}\n# TYPE {} {}\n", name, help, name,
                   type);
  }
  void sample(const Labels& labels, double value) { line(labels, format_value(value)); }
  void sample(const Labels& labels, uint64_t value) { line(labels, std::to_string(value)); }

 private:
  static std::string format_value(double value) {
    if (std::isnan(value)) return "NaN";
    if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
    return fmt::format("{}", value);
  }
  void line(const Labels& labels, const std::string& value) {
    out_ += name_;
    if (!labels.empty()) {
      out_ += '{';
      for (size_t i = 0; i < labels.size(); ++i) {
        if (i > 0) out_ += ',';
        fmt::format_to(std::back_inserter(out_), "{}=\"{}\"", labels[i].first,
                       escape_label_value(labels[i].second));
      }
      out_ += '}';
    }
    out_ += ' ';
    out_ += value;
    out_ += '\n';
  }

  std::string& out_;
  std::string_view name_;
};

Labels instance_labels(const InstanceMetrics& i) {
  return {{"service", i.service}, {"instance", std::to_string(i.instance)}};
}

Labels with(Labels labels, std::string_view name, std::string value) {
  labels.emplace_back(name, std::move(value));
  return labels;
}

constexpr std::pair<const char*, uint64_t InstanceMemory::*> kKinds[] = {
    {"rss", &InstanceMemory::rss},   {"pss", &InstanceMemory::pss},   {"uss", &InstanceMemory::uss},
    {"swap", &InstanceMemory::swap}, {"anon", &InstanceMemory::anon},
};

// The crash-loop circuit's states, as `memvisor status` names them: one series each, 1 for the
// current one (the usual way to expose an enum, so `== 1` selects and `sum` counts).
constexpr const char* kCircuitStates[] = {"closed", "open", "half-open"};

void render_instances(std::string& out, const MetricsSnapshot& s, double now) {
  Family memory(out, "memvisor_instance_memory_bytes", "gauge",
                "Memory of the instance's process at the last sample, by kind (rss, pss, uss, "
                "swap, anon; cgroup: its cgroup's usage, where measured).");
  for (const auto& i : s.instances) {
    if (!i.memory) continue;
    for (const auto& [kind, field] : kKinds) {
      memory.sample(with(instance_labels(i), "kind", kind), (*i.memory).*field);
    }
    if (i.cgroup_memory)
      memory.sample(with(instance_labels(i), "kind", "cgroup"), *i.cgroup_memory);
  }
  Family slope(out, "memvisor_instance_leak_slope_bytes_per_second", "gauge",
               "The leak rule's current estimate of the memory floor's growth.");
  for (const auto& i : s.instances) {
    if (i.leak_slope_bytes_per_second)
      slope.sample(instance_labels(i), *i.leak_slope_bytes_per_second);
  }
  Family detected(out, "memvisor_instance_leak_detected", "gauge",
                  "1 while the leak rule judges the instance's memory a leak (slope surely above "
                  "the rate, a steady trend, not slowing, past the warm-up), 0 while it does not.");
  for (const auto& i : s.instances) {
    if (i.leak_detected) detected.sample(instance_labels(i), uint64_t{*i.leak_detected});
  }
  // One family whatever the names: a worker chooses label values, never metric families.
  Family gauges(out, "memvisor_worker_value", "gauge",
                "The latest value of each gauge the instance's process reported (worker protocol) "
                "or its exec monitors read, by name; units are in the name's suffix.");
  for (const auto& i : s.instances) {
    for (const auto& [name, value] : i.gauges)
      gauges.sample(with(instance_labels(i), "name", name), value);
  }
  Family up(out, "memvisor_instance_up", "gauge", "1 when the instance has a live process.");
  for (const auto& i : s.instances) up.sample(instance_labels(i), uint64_t{i.up});
  Family ready(out, "memvisor_instance_ready", "gauge", "1 when the instance is ready to serve.");
  for (const auto& i : s.instances) ready.sample(instance_labels(i), uint64_t{i.ready});
  Family uptime(out, "memvisor_instance_uptime_seconds", "gauge",
                "Seconds since the instance's current process started.");
  for (const auto& i : s.instances) {
    if (i.started_at_s) uptime.sample(instance_labels(i), std::max(0.0, now - *i.started_at_s));
  }
  Family generation(out, "memvisor_instance_generation", "gauge",
                    "How many processes the instance has had; each restart or recycle adds one.");
  for (const auto& i : s.instances) {
    generation.sample(instance_labels(i), static_cast<uint64_t>(std::max(0, i.generation)));
  }
  Family restarts(out, "memvisor_instance_restarts_total", "counter",
                  "Restarts of the instance by reason, since the supervisor started.");
  for (const auto& i : s.instances) {
    for (const auto& [reason, count] : i.restarts_by_reason) {
      restarts.sample(with(instance_labels(i), "reason", reason), count);
    }
  }
  Family recycles(out, "memvisor_instance_recycles_total", "counter",
                  "Restarts that were recycles (a rule or an operator replaced a live process), by "
                  "reason, since the supervisor started.");
  for (const auto& i : s.instances) {
    for (const auto& [reason, count] : i.recycles_by_reason) {
      recycles.sample(with(instance_labels(i), "reason", reason), count);
    }
  }
  Family child_recycles(out, "memvisor_instance_child_recycles_total", "counter",
                        "Recycles of the instance's pre-fork children, by reason, since the "
                        "supervisor started.");
  for (const auto& i : s.instances) {
    for (const auto& [reason, count] : i.child_recycles_by_reason) {
      child_recycles.sample(with(instance_labels(i), "reason", reason), count);
    }
  }
  Family circuit(out, "memvisor_instance_circuit_state", "gauge",
                 "1 for the crash-loop circuit's current state (closed, open, half-open), 0 for "
                 "the others; absent for an instance stopped on purpose.");
  for (const auto& i : s.instances) {
    if (i.stopped_on_purpose) continue;
    for (const char* state : kCircuitStates) {
      circuit.sample(with(instance_labels(i), "state", state), uint64_t{i.circuit == state});
    }
  }
  Family failures(out, "memvisor_instance_consecutive_failures", "gauge",
                  "Failed runs of the instance in a row; circuit_failures of them open the "
                  "circuit.");
  for (const auto& i : s.instances) {
    failures.sample(instance_labels(i), static_cast<uint64_t>(std::max(0, i.consecutive_failures)));
  }
  bool any_requests = false;
  for (const auto& i : s.instances) any_requests = any_requests || i.requests_total.has_value();
  if (any_requests) {
    Family requests(out, "memvisor_requests_total", "counter",
                    "Requests the instance's current process reported through the worker library.");
    for (const auto& i : s.instances) {
      if (i.requests_total) requests.sample(instance_labels(i), *i.requests_total);
    }
  }
}

// Pre-fork children: families of their own, so that summing memvisor_instance_memory_bytes never
// counts a child twice; labelled with their instance's labels and `child`, the child's pid.
void render_children(std::string& out, const MetricsSnapshot& s, double now) {
  if (s.children.empty()) return;
  auto labels = [](const ChildMetrics& c) -> Labels {
    return {{"service", c.service},
            {"instance", std::to_string(c.instance)},
            {"child", std::to_string(c.pid)}};
  };
  Family memory(out, "memvisor_child_memory_bytes", "gauge",
                "Memory of a pre-fork child of the instance's process at the last sample, by "
                "kind (rss, pss, uss, swap).");
  for (const auto& c : s.children) {
    if (!c.memory) continue;
    for (const auto& [kind, field] : kKinds) {
      memory.sample(with(labels(c), "kind", kind), (*c.memory).*field);
    }
  }
  Family slope(out, "memvisor_child_leak_slope_bytes_per_second", "gauge",
               "The leak rule's current estimate of a pre-fork child's memory floor growth.");
  for (const auto& c : s.children) {
    if (c.leak_slope_bytes_per_second) slope.sample(labels(c), *c.leak_slope_bytes_per_second);
  }
  Family uptime(out, "memvisor_child_uptime_seconds", "gauge",
                "Seconds since the pre-fork child started.");
  for (const auto& c : s.children) uptime.sample(labels(c), std::max(0.0, now - c.started_at_s));
}

void render_services(std::string& out, const MetricsSnapshot& s) {
  Family memory(out, "memvisor_service_memory_bytes", "gauge",
                "Memory of every process of the service at the last sample, by kind.");
  for (const auto& service : s.services) {
    for (const auto& [kind, field] : kKinds) {
      memory.sample({{"service", service.name}, {"kind", kind}}, service.memory.*field);
    }
  }
  Family ready(out, "memvisor_service_ready_instances", "gauge", "Instances ready to serve.");
  for (const auto& service : s.services) {
    ready.sample({{"service", service.name}}, static_cast<uint64_t>(std::max(0, service.ready)));
  }
  Family desired(out, "memvisor_service_desired_instances", "gauge",
                 "Instances the configuration asks for.");
  for (const auto& service : s.services) {
    desired.sample({{"service", service.name}},
                   static_cast<uint64_t>(std::max(0, service.desired)));
  }
  // The configuration's thresholds, so that alerts can compare a trend with them per service
  // (a slope above the leak rate, the time until memory crosses the limit).
  Family rate(out, "memvisor_service_leak_rate_bytes_per_second", "gauge",
              "The leak rule's rate: a floor growing faster than this is a leak.");
  for (const auto& service : s.services) {
    if (service.leak_rate_bytes_per_second)
      rate.sample({{"service", service.name}}, *service.leak_rate_bytes_per_second);
  }
  Family threshold(out, "memvisor_service_memory_threshold_bytes", "gauge",
                   "A size rule's threshold (rule: warn, limit, critical, total) and the memory "
                   "kind it reads.");
  for (const auto& service : s.services) {
    for (const auto& t : service.thresholds) {
      threshold.sample({{"service", service.name}, {"rule", t.rule}, {"kind", t.kind}}, t.bytes);
    }
  }
}

void render_supervisor(std::string& out, const MetricsSnapshot& s) {
  if (!s.supervisor_restarts) return;
  Family restarts(out, "memvisor_supervisor_restarts_total", "counter",
                  "Times the controller restarted the supervisor since memvisor started.");
  restarts.sample({}, *s.supervisor_restarts);
}

void render_pressure(std::string& out, const MetricsSnapshot& s) {
  if (!s.pressure) return;
  const PressureMetrics& p = *s.pressure;
  Family fires(out, "memvisor_pressure_fires_total", "counter",
               "Memory pressure seen above the pressure rule's share: PSI trigger wake-ups, or "
               "polled rounds above it.");
  fires.sample({}, p.fires);
  Family recycles(out, "memvisor_pressure_recycles_total", "counter",
                  "Recycles the pressure rule asked for.");
  recycles.sample({}, p.recycles);
  Family armed(out, "memvisor_pressure_trigger_armed", "gauge",
               "1 while a PSI trigger wakes memvisor; 0 while it reads avg10 each round.");
  armed.sample({}, uint64_t{p.trigger ? 1u : 0u});
  if (!p.some_avg10) return;
  Family stall(out, "memvisor_pressure_stall_ratio", "gauge",
               "The memory PSI source's avg10: the share of the last 10 s tasks stalled on "
               "memory (some: at least one, full: all).");
  stall.sample({{"kind", "some"}}, *p.some_avg10 / 100);
  if (p.full_avg10) stall.sample({{"kind", "full"}}, *p.full_avg10 / 100);
}

void render_monitors(std::string& out, const MetricsSnapshot& s) {
  if (s.monitors.empty()) return;
  auto labels = [](const MonitorMetrics& m) {
    return Labels{{"service", m.service}, {"monitor", m.monitor}};
  };
  Family runs(out, "memvisor_monitor_runs_total", "counter",
              "Runs of an exec monitor that ended, with a value or a failure, over its "
              "service's instances.");
  for (const auto& m : s.monitors) runs.sample(labels(m), m.runs);
  Family failures(out, "memvisor_monitor_failures_total", "counter",
                  "Failed runs of an exec monitor by reason: exec (could not start), exit "
                  "(non-zero status or a signal), timeout (killed), not_a_number.");
  for (const auto& m : s.monitors) {
    for (const char* reason : {"exec", "exit", "timeout", "not_a_number"}) {
      auto it = m.failures.find(reason);
      failures.sample(with(labels(m), "reason", reason),
                      it == m.failures.end() ? uint64_t{0} : it->second);
    }
  }
  Family skipped(out, "memvisor_monitor_skipped_total", "counter",
                 "Runs of an exec monitor not started because the instance's previous run was "
                 "still going.");
  for (const auto& m : s.monitors) skipped.sample(labels(m), m.skipped);
}

void render_own(std::string& out, const std::vector<ProcessUsage>& own) {
  if (own.empty()) return;
  Family resident(out, "process_resident_memory_bytes", "gauge",
                  "Resident memory of memvisor's own processes.");
  for (const auto& p : own) resident.sample({{"process", p.process}}, p.resident_bytes);
  Family cpu(out, "process_cpu_seconds_total", "counter",
             "User and system CPU time of memvisor's own processes.");
  for (const auto& p : own) cpu.sample({{"process", p.process}}, p.cpu_seconds);
  Family start(out, "process_start_time_seconds", "gauge",
               "Start time of memvisor's own processes since the Unix epoch.");
  for (const auto& p : own) start.sample({{"process", p.process}}, p.start_time_seconds);
}

}  // namespace

std::string escape_label_value(std::string_view value) {
  std::string escaped;
  escaped.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      escaped += "\\\\";
    } else if (c == '"') {
      escaped += "\\\"";
    } else if (c == '\n') {
      escaped += "\\n";
    } else {
      escaped += c;
    }
  }
  return escaped;
}

std::string render_metrics(const MetricsSnapshot& snapshot, double now_unix_s,
                           const std::vector<ProcessUsage>& own_processes) {
  std::string out;
  render_instances(out, snapshot, now_unix_s);
  render_children(out, snapshot, now_unix_s);
  render_services(out, snapshot);
  render_supervisor(out, snapshot);
  render_pressure(out, snapshot);
  render_monitors(out, snapshot);
  render_own(out, own_processes);
  return out;
}

}  // namespace memvisor
