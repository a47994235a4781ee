// The supervisor's side of the HTTP endpoint: start it where the config says, and build the
// snapshot it serves from the fleet state and the memory samples.

#include <algorithm>

#include "core/rules/memory_rules.h"
#include "os/log_sink.h"
#include "os/open_files_limit.h"
#include "supervisor/supervisor.h"

namespace memvisor {
namespace {

constexpr auto kBindRetry = std::chrono::seconds(5);
// A page polls every 2 s; past this without a poll it is closed (or gone) and the series stop.
constexpr auto kSeriesWatched = std::chrono::seconds(30);
// Samples per unit on the page: 16 minutes at 1 s, 3 at 200 ms; a few dozen KB of JSON each.
constexpr int kDashboardPoints = 1000;

// Each HTTP connection holds a descriptor; with the common soft limit of 1024 a flood could leave
// none for /proc reads and the rules. The soft limit may be raised up to the hard one without
// privilege; workers are not affected (the controller spawns them, not us).
HttpLimits limits_for_this_process() {
  HttpLimits limits;
  const rlim_t files = raise_open_files_limit(4096);
  // Keep at least half of the descriptors for everything else the supervisor does.
  limits.connections = static_cast<unsigned>(std::min<rlim_t>(512, files / 2));
  return limits;
}

// The thresholds of the service's size rules and its leak rate, each with the memory kind it
// reads, so an alert can set a trend against them.
void add_rule_thresholds(const ServiceConfig& service, ServiceMetrics& totals) {
  const MemoryRules& rules = service.memory;
  // Memory thresholds only: a rule on a gauge is not in bytes of memory.
  auto add = [&](const char* rule, const std::optional<MemoryMetric>& own, uint64_t size) {
    const MemoryMetric& metric = own ? *own : rules.metric;
    if (!metric.is_gauge()) totals.thresholds.push_back({rule, to_string(metric), size});
  };
  if (rules.warn) add("warn", rules.warn->metric, rules.warn->size);
  if (rules.limit) add("limit", rules.limit->metric, rules.limit->size);
  if (rules.critical) add("critical", rules.critical->metric, rules.critical->size);
  if (rules.total) add("total", rules.total->metric, rules.total->size);
  if (rules.leak) {
    totals.leak_rate_bytes_per_second =
        static_cast<double>(rules.leak->rate_bytes_per_hour) / 3600.0;
  }
}

}  // namespace

void Supervisor::start_http_if_wanted() {
  const std::string& wanted = fleet_.config().supervisor.http;
  if (http_ || wanted.empty()) return;
  const auto now = std::chrono::steady_clock::now();
  if (now < next_http_try_) return;
  next_http_try_ = now + kBindRetry;
  auto address = parse_listen_address(wanted);
  if (!address) {  // the controller validated it; a mismatch here is a bug worth a clear line
    log_message(LogLevel::error, "supervisor.http: " + address.error().message);
    return;
  }
  auto endpoint = HttpEndpoint::start(*address, limits_for_this_process());
  if (!endpoint) {
    // Said once per distinct problem; the rules keep running and the bind is retried.
    const std::string message = endpoint.error().describe();
    if (message != http_error_logged_) {
      log_message(LogLevel::warning, message + "; retrying every 5s");
      http_error_logged_ = message;
    }
    return;
  }
  http_ = std::move(*endpoint);
  http_address_ = wanted;
  http_error_logged_.clear();
  publish_metrics();
  log_message(
      LogLevel::notice,
      "serving /metrics, /health, /status and the dashboard (/) on http://" + to_string(*address));
}

void Supervisor::publish_metrics() {
  state_changed_ = false;
  publish_now_ = false;
  published_at_ = std::chrono::steady_clock::now();
  if (!http_) return;
  http_->publish(build_metrics_snapshot());
  // The series only while a page asked for them lately: nobody watching, nothing built.
  // At most once a second: a page polls every 2 s, and a 100 ms interval would build them ten
  // times over for nothing.
  std::string series;
  const auto now = std::chrono::steady_clock::now();
  if (!http_->series_wanted(kSeriesWatched)) {
    dashboard_.drop_series();  // a request after a pause gets `pending`, never minutes-old data
  } else if (now >= next_series_build_) {
    series = dashboard_series_json();
    next_series_build_ = now + std::chrono::seconds(1);
  }
  http_->publish_dashboard(dashboard_.build(std::move(series)));
}

std::string Supervisor::dashboard_series_json() const {
  // The `series` command's answer for every unit (series_json.h), as `memvisor top` gets it.
  ControlRequest request;
  request.command = ControlCommand::series;
  request.points = kDashboardPoints;
  return series_reply(request).dump() + "\n";
}

std::shared_ptr<const MetricsSnapshot> Supervisor::build_metrics_snapshot() const {
  auto snapshot = std::make_shared<MetricsSnapshot>();
  snapshot->status = status_json();
  snapshot->controller_pid = snapshot->status.value("controller_pid", 0);
  for (const ServiceConfig& service : fleet_.config().services) {
    ServiceMetrics& totals = snapshot->services.emplace_back();
    totals.name = service.name;
    totals.desired = service.instances;
    totals.lost_listens = fleet_.lost_listens(service.name);
    add_rule_thresholds(service, totals);
    const std::vector<int> serving = fleet_.serving_instances(service.name);
    for (const FleetProcess& process : fleet_.processes(service.name)) {
      const int number = process.instance;
      const MemoryWatch::Key key{service.name, number, process.generation};
      const auto* series = memory_.series(key);
      const bool alive = process.pid != 0;
      std::optional<InstanceMemory> memory;
      std::optional<uint64_t> cgroup;
      if (alive && series != nullptr && !series->empty()) {
        const MemoryValues& v = series->back().values;
        memory = InstanceMemory{v.rss, v.pss, v.uss, v.swap, v.anon};
        if (MemoryWatch::measures_cgroup(service, process.cgroup)) cgroup = v.cgroup;
        totals.memory.rss += v.rss;
        totals.memory.pss += v.pss;
        totals.memory.uss += v.uss;
        totals.memory.swap += v.swap;
        totals.memory.anon += v.anon;
      }
      if (service.prefork && alive) {
        for (const MemoryWatch::Child& child : memory_.children(key)) {
          ChildMetrics& c = snapshot->children.emplace_back();
          c.service = service.name;
          c.instance = number;
          c.pid = child.pid;
          c.started_at_s = child.started_at_s;
          const MemoryWatch::UnitKey unit = MemoryWatch::unit_of(key, child.pid);
          if (const auto* of_child = memory_.series(unit); of_child && !of_child->empty()) {
            const MemoryValues& v = of_child->back().values;
            c.memory = InstanceMemory{v.rss, v.pss, v.uss, v.swap, v.anon};
            totals.memory.rss += v.rss;  // the service's memory is its masters' and children's
            totals.memory.pss += v.pss;
            totals.memory.uss += v.uss;
            totals.memory.swap += v.swap;
            totals.memory.anon += v.anon;
          }
          if (const ProcessRules* rules = memory_.rules(unit); rules != nullptr) {
            const LeakAssessment* leak = rules->leak_assessment();
            if (leak != nullptr && leak->span_s > 0) {
              c.leak_slope_bytes_per_second = leak->slope_bytes_per_hour / 3600;
            }
          }
        }
      }
      // A recycle's replacement counts in the service's memory; the instance's series follow
      // the process that serves until the replacement takes over.
      if (!process.primary) continue;
      InstanceMetrics& m = snapshot->instances.emplace_back();
      m.service = service.name;
      m.instance = number;
      m.generation = process.generation;
      m.state = process.state;
      m.up = alive;
      m.ready = std::binary_search(serving.begin(), serving.end(), number);
      if (alive) m.started_at_s = process.started_at;
      m.memory = memory;
      m.cgroup_memory = cgroup;
      if (const GaugeStore* gauges = memory_.gauges(key); alive && gauges != nullptr) {
        for (const auto& [name, gauge] : gauges->all()) m.gauges[name] = gauge.value;
      }
      if (const ProcessRules* rules = memory_.rules(key); rules != nullptr) {
        const LeakAssessment* leak = rules->leak_assessment();
        if (leak != nullptr && leak->span_s > 0) {
          m.leak_slope_bytes_per_second = leak->slope_bytes_per_hour / 3600;
          m.leak_detected = leak->leaking;
        }
      }
      m.restarts_by_reason = fleet_.restarts(service.name, number);
      m.recycles_by_reason = fleet_.recycles(service.name, number);
      m.child_recycles_by_reason = fleet_.child_recycles(service.name, number);
      m.circuit = process.record.value("circuit", "closed");
      m.stopped_on_purpose =
          process.state == "stopped" && process.record.value("stopped_on_purpose", false);
      m.consecutive_failures = process.record.value("consecutive_failures", 0);
      // Only for processes that speak the worker protocol: a zero would claim an idle worker.
      if (workers_ && !workers_->describe(key).is_null()) {
        m.requests_total = static_cast<uint64_t>(std::max<int64_t>(0, memory_.requests(key)));
      }
      if (m.ready) {
        ++totals.ready;
      } else if (m.stopped_on_purpose) {
        // Down as asked (`memvisor stop`, a one-shot's clean exit): not missing for /health.
        --totals.desired;
      } else {
        totals.not_ready.push_back(service.name + "." + std::to_string(number) + " (" +
                                   (m.state.empty() ? "unknown" : m.state) + ")");
      }
    }
  }
  snapshot->supervisor_restarts = fleet_.supervisor_restarts();
  if (pressure_) {
    PressureMetrics& p = snapshot->pressure.emplace();
    p.trigger = !pressure_->armed.empty();
    p.fires = pressure_->fires;
    p.recycles = pressure_->recycles;
    if (pressure_->last) {
      p.some_avg10 = pressure_->last->some.avg10;
      if (pressure_->last->has_full) p.full_avg10 = pressure_->last->full.avg10;
    }
  }
  for (const ServiceConfig& service : fleet_.config().services) {
    for (const MonitorConfig& monitor : service.monitors) {
      MonitorMetrics& m = snapshot->monitors.emplace_back();
      m.service = service.name;
      m.monitor = monitor.name;
      if (!monitors_) continue;
      auto it = monitors_->counters().find({service.name, monitor.name});
      if (it == monitors_->counters().end()) continue;
      m.runs = it->second.runs;
      m.skipped = it->second.skipped;
      m.failures = it->second.failures;
    }
  }
  return snapshot;
}

}  // namespace memvisor
