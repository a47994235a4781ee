// The supervisor's memory loop: sample on each service's interval, run the rules, and act on
// their decisions through events, crash reports and recycle requests to the controller.
#include <fmt/format.h>

#include <chrono>

#include "core/observe/event.h"
#include "core/observe/unit_name.h"
#include "core/units.h"
#include "os/log_sink.h"
#include "supervisor/crash_report.h"
#include "supervisor/supervisor.h"

namespace memvisor {
namespace {

double steady_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

void Supervisor::on_sample_timer() {
  sample_timer_->acknowledge();
  if (!fleet_.has_snapshot()) return;
  const double now = steady_seconds();
  for (const RuleAction& action :
       memory_.sample_due(now, std::chrono::system_clock::now(), fleet_)) {
    act(action);
  }
  retarget_kernel_thresholds();
  check_totals();
  report_restore();
  // A decision is saved at once: a supervisor killed right after it must not make it again.
  write_checkpoint_if_due(/*now=*/decided_since_checkpoint_);
  poll_pressure();
  if (!said_ready_) {
    // The controller restarts a supervisor that dies after this at once, and backs off only
    // for one that dies before it (a crash loop).
    controller_->send_line(R"({"type":"ready"})");
    said_ready_ = true;
  }
  state_changed_ = true;
  start_http_if_wanted();  // a retry, when the address could not be bound before
  tick_workers();
  const double next = memory_.next_due(fleet_);
  const auto delay = std::chrono::duration<double>(std::max(0.0, next - now));
  (void)sample_timer_->arm(std::chrono::steady_clock::now() +
                           std::chrono::duration_cast<std::chrono::steady_clock::duration>(delay));
}

void Supervisor::act(const RuleAction& action) {
  decided_since_checkpoint_ = true;
  const RuleDecision& d = action.decision;
  nlohmann::json event = {{"event", "rule"},
                          {"service", action.service},
                          {"instance", action.instance},
                          {"pid", action.pid},
                          {"generation", action.generation},
                          {"reason", d.rule},
                          {"rule", d.rule},
                          {"action", d.action},
                          {"metric", d.metric},
                          {"value", d.value},
                          {"threshold", d.threshold},
                          {"message", d.message}};
  if (action.child != 0) event["child"] = action.child;
  if (d.slope_bytes_per_hour) event["slope_bytes_per_hour"] = *d.slope_bytes_per_hour;
  if (d.confidence) event["confidence"] = *d.confidence;

  if (d.action == "critical") {
    const ServiceConfig* service = fleet_.service(action.service);
    CrashReportInput input;
    input.incidents_dir = options_.state_dir + "/incidents";
    input.time = std::chrono::system_clock::now();
    input.service = service;
    input.action = action;
    input.samples = memory_.series(MemoryWatch::unit_of(action));
    auto written = write_crash_report(input);
    if (written) event["report"] = *written;
    // The stop goes ahead either way; a full disk is told once, not at every critical.
    log_write_outcome(crash_report_outage_, written ? Status{} : Status{written.error()});
  }
  // critical and leak write an incident bundle; the stop or recycle they ask for is requested
  // once its capture is done (see supervisor_incidents.cc).
  const bool recycle = d.action == "recycle" || d.action == "critical";
  const bool bundle = d.action == "critical" || d.rule == "leak";
  // Any other rule acting on this instance ends a leak's heap sample now: it never waits for one.
  if (recycle && d.rule != "leak" && action.child == 0) {
    cut_heap_samples_short(action.service, action.instance,
                           fmt::format("the {} rule acted during the window", d.rule));
  }
  const Millis heap_sample = d.rule == "leak" ? leak_sample_of(action.service) : Millis(0);
  PendingIncident* incident = nullptr;
  if (bundle) {
    std::optional<ThenRecycle> then;
    std::string what_next = "alert only: the process runs on";
    if (d.action == "critical" && action.child != 0) {
      what_next = "killed at once (SIGKILL) once captured; its master forks a replacement";
    } else if (d.action == "critical") {
      what_next = "stopped at once (no surge) once captured; it restarts per its restart policy";
    } else if (recycle && action.child != 0) {
      what_next = "recycled: prefork_signal to the child, its master forks a replacement";
      if (heap_sample.count() > 0) what_next += " (after the heap sample)";
    } else if (recycle) {
      what_next = surge_of(action.service)
                      ? "recycled: a replacement starts, this process stops once it is ready"
                      : "recycled: stopped, then started again";
      if (heap_sample.count() > 0) what_next += " (after the heap sample)";
    }
    if (recycle) then = ThenRecycle{d.rule, d.action == "critical", action.child_start_ticks};
    incident = &begin_incident(action, d.rule, d, what_next, then, nullptr, nullptr);
    event["incident"] = incident->content.facts.id;
  }
  log_event(event);
  // After the rule's own event, so that events.jsonl reads in order: the leak, then its sample.
  if (incident != nullptr && heap_sample.count() > 0) {
    begin_heap_sample(*incident, action, heap_sample);
  }
  if (recycle && !bundle) request_recycle_of(action, d.rule, d.action == "critical");
}

void Supervisor::request_recycle_of(const RuleAction& action, const std::string& reason,
                                    bool urgent) {
  if (action.child == 0) return request_recycle(action.service, action.instance, reason, urgent);
  request_child_recycle(action.service, action.instance, action.child, action.child_start_ticks,
                        reason, urgent);
}

void Supervisor::request_child_recycle(const std::string& service, int instance, int child,
                                       uint64_t start_ticks, const std::string& reason,
                                       bool urgent) {
  if (!controller_ || controller_->closed()) return;
  nlohmann::json request = {
      {"type", "request"},          {"id", next_request_id_++}, {"action", "recycle_child"},
      {"service", service},         {"instance", instance},     {"child", child},
      {"start_ticks", start_ticks}, {"reason", reason},         {"urgent", urgent}};
  controller_->send_line(request.dump());
}

Millis Supervisor::leak_sample_of(const std::string& service) const {
  const ServiceConfig* s = fleet_.service(service);
  return s != nullptr && s->memory.leak ? s->memory.leak->sample : Millis(0);
}

bool Supervisor::surge_of(const std::string& service) const {
  const ServiceConfig* s = fleet_.service(service);
  return s == nullptr || s->surge;
}

void Supervisor::check_totals() {
  // Only one total-driven recycle at a time per scope: wait until none is under way, then
  // re-measure. Members are the primaries with a recent sample.
  struct Member {
    RuleAction unit;  // an instance's process, or a pre-fork child (unit.child)
    MemoryValues values;
  };
  auto members_of = [&](const ServiceConfig* only, bool& busy) {
    std::vector<Member> members;
    for (const ServiceConfig& service : fleet_.config().services) {
      if (only != nullptr && &service != only) continue;
      for (const FleetProcess& process : fleet_.processes(service.name)) {
        if (process.recycling || !process.primary ||
            process.record.value("children_recycling", 0) > 0) {
          busy = true;
        }
        if (!process.primary || process.pid == 0) continue;
        const MemoryWatch::Key key{service.name, process.instance, process.generation};
        const RuleAction instance{
            service.name, process.instance, process.generation, process.pid, {}};
        const auto* series = memory_.series(key);
        if (series != nullptr && !series->empty()) {
          members.push_back({instance, series->back().values});
        }
        if (!service.prefork) continue;
        for (const MemoryWatch::Child& child : memory_.children(key)) {
          const auto* of_child = memory_.series(MemoryWatch::unit_of(key, child.pid));
          if (of_child == nullptr || of_child->empty()) continue;
          RuleAction unit = instance;
          unit.pid = unit.child = child.pid;
          unit.child_start_ticks = child.start_ticks;
          members.push_back({unit, of_child->back().values});
        }
      }
    }
    return members;
  };
  auto enforce = [&](const SizeRule& rule, MemoryMetric metric, const ServiceConfig* only,
                     const std::string& scope) {
    bool busy = false;
    const auto members = members_of(only, busy);
    if (busy) return;
    std::vector<MemoryValues> values;
    for (const auto& m : members) values.push_back(m.values);
    uint64_t sum = 0;
    const auto victim = choose_total_victim(rule, metric, values, &sum);
    if (!victim) return;
    const Member& chosen = members[*victim];
    const std::string metric_name(to_string(rule.metric.value_or(metric)));
    nlohmann::json event = {
        {"event", "rule"},
        {"service", chosen.unit.service},
        {"instance", chosen.unit.instance},
        {"pid", chosen.unit.child},
        {"reason", "total"},
        {"rule", "total"},
        {"action", "recycle"},
        {"metric", metric_name},
        {"value", sum},
        {"threshold", rule.size},
        {"scope", scope},
        {"message", fmt::format("{} total {} {} is above {}: recycling the largest ({} private)",
                                scope, metric_name, format_size(sum), format_size(rule.size),
                                format_size(chosen.values.uss))}};
    if (chosen.unit.child != 0) event["child"] = chosen.unit.child;
    log_event(std::move(event));
    if (chosen.unit.child == 0) {
      cut_heap_samples_short(chosen.unit.service, chosen.unit.instance,
                             "the total rule acted during the window");
    }
    request_recycle_of(chosen.unit, "total", false);
  };
  for (const ServiceConfig& service : fleet_.config().services) {
    if (service.memory.total)
      enforce(*service.memory.total, service.memory.metric, &service, service.name);
  }
  if (fleet_.config().supervisor.total) {
    enforce(*fleet_.config().supervisor.total, MemoryMetric::pss, nullptr, "supervisor");
  }
}

void Supervisor::request_recycle(const std::string& service, int instance,
                                 const std::string& reason, bool urgent) {
  if (!controller_ || controller_->closed()) return;
  nlohmann::json request = {{"type", "request"},  {"id", next_request_id_++}, {"action", "recycle"},
                            {"service", service}, {"instance", instance},     {"reason", reason},
                            {"urgent", urgent}};
  controller_->send_line(request.dump());
}

void Supervisor::log_event(nlohmann::json event) {
  event["ts"] = format_rfc3339(std::chrono::system_clock::now());
  if (events_log_) {
    const SupervisorConfig& limits = fleet_.config().supervisor;  // the current one, after reloads
    events_log_->set_rotation({limits.events_max_size, limits.events_keep});
    log_write_outcome(events_outage_, events_log_->append_line(event.dump()));
  }
  Event parsed = event_from_json(event);
  parsed.ts = std::chrono::system_clock::now();
  log_event_line(parsed);
  // Every bundle written (or not) ends in an "incident" event: the dashboard lists them again.
  if (event.value("event", "") == "incident") dashboard_.incidents_changed();
  dashboard_.add_event(std::move(event));
  state_changed_ = true;
}

nlohmann::json Supervisor::memory_json(const nlohmann::json& record) const {
  const MemoryWatch::Key key{record.value("service", ""), record.value("instance", 0),
                             record.value("generation", 0)};
  return unit_memory_json(MemoryWatch::unit_of(key), record.value("cgroup", ""));
}

nlohmann::json Supervisor::unit_memory_json(const MemoryWatch::UnitKey& key,
                                            std::string_view cgroup) const {
  const auto* series = memory_.series(key);
  if (series == nullptr || series->empty()) return nullptr;
  const MemoryValues& v = series->back().values;
  nlohmann::json json = {{"rss", v.rss}, {"pss", v.pss}, {"uss", v.uss}, {"swap", v.swap}};
  json["samples"] = series->size();  // kept so far (at most kMaxSamples): shows sampling goes on
  if (const ServiceConfig* service = fleet_.service(std::get<0>(key));
      service != nullptr && MemoryWatch::measures_cgroup(*service, cgroup)) {
    json["cgroup"] = v.cgroup;  // bytes; the record's own "cgroup" is the path
  }
  // The leak rule's floor slope, once it has judged a span; its reason says why it is or is not
  // a leak (or what it still waits for).
  if (const ProcessRules* rules = memory_.rules(key);
      rules != nullptr && rules->leak_assessment()) {
    const LeakAssessment& leak = *rules->leak_assessment();
    if (leak.span_s > 0) json["leak_slope_bytes_per_hour"] = leak.slope_bytes_per_hour;
    json["leak_reason"] = leak.reason;
    // Verdicts so far (one per 30 s of the process's life it has seen): a restarted supervisor
    // that restored the checkpoint goes on counting, one that did not starts from 0.
    json["leak_verdicts"] = rules->leak_verdicts();
  }
  return json;
}

nlohmann::json Supervisor::children_json(const nlohmann::json& record, double now_s) const {
  const MemoryWatch::Key key{record.value("service", ""), record.value("instance", 0),
                             record.value("generation", 0)};
  nlohmann::json children = nlohmann::json::array();
  for (const MemoryWatch::Child& child : memory_.children(key)) {
    children.push_back({
        {"unit", unit_name(std::get<0>(key), std::get<1>(key), child.pid)},
        {"pid", child.pid},
        {"start_ticks", child.start_ticks},
        {"started_at", child.started_at_s},
        {"uptime_s", std::max(0.0, now_s - child.started_at_s)},
        {"memory", unit_memory_json(MemoryWatch::unit_of(key, child.pid), "")},
    });
  }
  return children;
}

}  // namespace memvisor
