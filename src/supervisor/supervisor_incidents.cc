// Incident bundles in the supervisor: on `critical`, on `leak` and on `memvisor dump`.
//
// The event loop never waits for a capture. /proc (status, smaps, cmdline) and the retained
// series are read at once, synchronously: a few milliseconds. Thread stacks come from a child
// process (eu-stack or gdb) watched by the loop and killed at a deadline, and so does a leak's
// heap sample (supervisor_heap_samples.cc); the bundle is written when both have ended. A stop or
// recycle the rule asked for is requested only then, so the captures show the live process: for
// `critical` that delays the stop by at most kCriticalStackBudget, while the stack tool holds the
// process still under ptrace for most of that time.
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>

#include <chrono>
#include <filesystem>

#include "core/observe/unit_name.h"
#include "core/units.h"
#include "os/log_sink.h"
#include "supervisor/incident_store.h"
#include "supervisor/supervisor.h"

namespace memvisor {
namespace {

constexpr std::chrono::milliseconds kCriticalStackBudget{2000};
constexpr std::chrono::milliseconds kStackBudget{10000};

}  // namespace

Supervisor::PendingIncident& Supervisor::begin_incident(
    const RuleAction& action, const std::string& trigger, std::optional<RuleDecision> decision,
    std::string what_next, std::optional<ThenRecycle> then,
    const std::shared_ptr<LineChannel>& client, nlohmann::json client_id) {
  auto incident = std::make_unique<PendingIncident>();
  std::deque<TimedSample> samples;
  if (const auto* series = memory_.series(MemoryWatch::unit_of(action))) {
    samples = *series;
  } else if (const auto* saved = memory_.checkpointed_series(MemoryWatch::unit_of(action))) {
    samples.assign(saved->begin(), saved->end());
  }
  std::optional<MemoryRules> rules;
  if (const ServiceConfig* service = fleet_.service(action.service)) rules = service->memory;
  incident->content =
      start_bundle(action, std::chrono::system_clock::now(), trigger, std::move(decision),
                   std::move(what_next), std::move(samples), std::move(rules));
  BundleContent& content = incident->content;
  IncidentFacts& facts = content.facts;
  // Unique among the bundles on disk and those still being captured.
  const std::string base = facts.id;
  auto taken = [&](const std::string& id) {
    if (std::filesystem::exists(incidents_dir() + "/" + id)) return true;
    for (const auto& other : incidents_) {
      if (other->content.facts.id == id) return true;
    }
    return false;
  };
  for (int n = 2; taken(facts.id); ++n) facts.id = fmt::format("{}-{}", base, n);

  // A pre-fork child has no gauges: they are the instance's (its master's).
  if (const GaugeStore* gauges =
          facts.child == 0 ? memory_.gauges({action.service, action.instance, action.generation})
                           : nullptr) {
    for (const auto& [name, gauge] : gauges->all()) {
      facts.gauges[name] = gauge.value;
      content.gauges[name] = gauge.series;
    }
  }

  incident->then = std::move(then);
  incident->answer_client = client != nullptr;
  incident->client = client;
  incident->client_id = std::move(client_id);
  PendingIncident* raw = incident.get();
  incidents_.push_back(std::move(incident));
  raw->stacks = std::make_unique<StackCapture>(
      *loop_, action.pid, raw->then && raw->then->urgent ? kCriticalStackBudget : kStackBudget,
      [this, raw](std::string text) {
        raw->content.stacks = std::move(text);
        raw->stacks_done = true;
        finish_incident_if_captured(*raw);
      });
  return *raw;
}

void Supervisor::finish_incident_if_captured(PendingIncident& incident) {
  if (incident.done || !incident.stacks_done || (incident.heap && !incident.heap->finished())) {
    return;
  }
  finish_incident(incident);
}

bool Supervisor::process_is_current(const IncidentFacts& facts) const {
  // A pre-fork child is current while the last round still found it.
  if (facts.child != 0) {
    return memory_.series(MemoryWatch::UnitKey{facts.service, facts.instance, facts.generation,
                                               facts.child}) != nullptr;
  }
  const auto& processes = fleet_.processes(facts.service);
  return std::any_of(processes.begin(), processes.end(), [&](const FleetProcess& p) {
    return p.instance == facts.instance && p.generation == facts.generation && p.pid == facts.pid &&
           p.measured();
  });
}

void Supervisor::finish_incident(PendingIncident& incident) {
  incident.done = true;  // dropped by run() once this callback has returned
  BundleContent& content = incident.content;
  IncidentFacts& facts = content.facts;
  // The process may have exited, restarted or begun a stop while the captures ran: a recycle
  // asked for now would hit its successor, or come twice.
  if (incident.then && !incident.then->urgent && !process_is_current(facts)) {
    incident.then.reset();
    facts.action = "not recycled: the process exited or began stopping during the capture";
  }
  auto written = write_incident_bundle(incidents_dir(), content);
  if (!incident.heap_report.empty()) ::unlink(incident.heap_report.c_str());
  if (incident.heap_sample_event) log_heap_sample_done(incident, written);
  nlohmann::json event = incident_event("incident", facts);
  if (written) {
    event["path"] = *written;
    event["message"] = "incident bundle " + facts.id + " written";
    const auto& supervisor = fleet_.config().supervisor;
    for (const std::string& removed :
         enforce_incident_retention(incidents_dir(), static_cast<size_t>(supervisor.incidents_keep),
                                    supervisor.incidents_max_size)) {
      log_message(LogLevel::info, "removed incident " + removed + " (retention)");
    }
  } else {
    event["message"] =
        "cannot write incident bundle " + facts.id + ": " + written.error().describe();
  }
  log_event(event);

  if (incident.answer_client) {
    if (auto client = incident.client.lock(); client && !client->closed()) {
      nlohmann::json reply =
          written ? nlohmann::json{{"ok", true}, {"incident", facts.id}, {"path", *written}}
                  : nlohmann::json{
                        {"ok", false}, {"code", "failed"}, {"error", written.error().describe()}};
      if (!incident.client_id.is_null()) reply["id"] = incident.client_id;
      client->send_line(reply_line(reply));
    }
  }
  if (incident.then) {
    RuleAction unit{facts.service, facts.instance, facts.generation, facts.pid, {}};
    unit.child = facts.child;
    unit.child_start_ticks = incident.then->child_start_ticks;
    request_recycle_of(unit, incident.then->reason, incident.then->urgent);
    memory_.recycle_requested(MemoryWatch::unit_of(unit));
  }
}

void Supervisor::write_event_incident(const nlohmann::json& event, const std::string& trigger,
                                      std::string what_next) {
  RuleAction action{event.value("service", ""),
                    event.value("instance", 0),
                    event.value("generation", 0),
                    event.value("pid", 0),
                    {}};
  if (action.service.empty() || action.instance <= 0 || action.pid <= 0) return;
  begin_incident(action, trigger, std::nullopt, std::move(what_next), std::nullopt, nullptr,
                 nullptr);
}

void Supervisor::write_oom_kill_incident(const nlohmann::json& exited) {
  // The process is gone: /proc and the stacks come back empty, the retained series (what memory
  // did up to the last sample before the kernel acted) is the point of this bundle.
  write_event_incident(exited, "oom_kill",
                       "none: the kernel's OOM killer ended it (" + exited.value("oom", "") +
                           "); it restarts per its restart policy");
}

void Supervisor::write_watchdog_incident(const nlohmann::json& timeout) {
  // The controller stops it meanwhile; a hung process seldom exits on its stop signal at once,
  // so the stacks show where it hangs (one that does leaves stacks.txt saying so).
  write_event_incident(
      timeout, "watchdog",
      "restarted: " + timeout.value("message", std::string("its watchdog expired")) +
          "; thread stacks taken as its stop began");
}

std::optional<nlohmann::json> Supervisor::dump_instance(
    const ControlRequest& request, const std::shared_ptr<LineChannel>& client) {
  const ControlTarget& target = request.target;
  const std::string label = unit_name(target.service, target.instance, target.child);
  if (!fleet_.has_snapshot()) {
    return error_reply({nullptr, "unavailable", "starting up; try again"});
  }
  if (fleet_.service(target.service) == nullptr) {
    return error_reply({nullptr, "not_found", fleet_.no_service(target.service)});
  }
  for (const FleetProcess& process : fleet_.processes(target.service)) {
    if (process.instance != target.instance || !process.primary || !process.measured()) continue;
    RuleAction action{target.service, target.instance, process.generation, process.pid, {}};
    if (target.child != 0) {
      // A pre-fork child, as the last sampling round found it under this instance's process.
      const auto children = memory_.children({target.service, target.instance, process.generation});
      const auto child = std::find_if(children.begin(), children.end(),
                                      [&](const auto& c) { return c.pid == target.child; });
      if (child == children.end()) break;
      action.pid = action.child = child->pid;
      action.child_start_ticks = child->start_ticks;
    }
    begin_incident(action, "dump", std::nullopt, "none: an operator's dump, the process runs on",
                   std::nullopt, client, request.id);
    return std::nullopt;  // answered with the path once the bundle is written
  }
  return error_reply({nullptr, "not_found", "no running process for " + label});
}

}  // namespace memvisor
