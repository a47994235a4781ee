// A leak's heap sample (leak.sample > 0): taken before the bundle is written and the leak's
// recycle asked for, by a child watched by the loop (heap_sample_capture.h), so the other rules
// and the control socket go on meanwhile. The wait is bounded by the child's deadline; any rule
// that acts on the same instance during the window (critical, limit, age, requests, total) cuts
// the sample short and the leak's recycle is dropped in favour of that rule's own action, so an
// emergency never waits for a sample. So does the process's end.
#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>

#include "heap_report/heap_report.h"
#include "os/files.h"
#include "supervisor/supervisor.h"

namespace memvisor {

void Supervisor::begin_heap_sample(PendingIncident& incident, const RuleAction& action,
                                   Millis duration) {
  IncidentFacts& facts = incident.content.facts;
  incident.heap_sample_event = true;
  const ServiceConfig* service = fleet_.service(action.service);
  if (service == nullptr || !service->heap_sampler) {
    facts.heap_sample = "none: heap_sampler is off for this service";
    return;
  }
  for (const auto& other : incidents_) {
    if (other->heap && !other->heap->finished() && other->content.facts.service == facts.service &&
        other->content.facts.instance == facts.instance) {
      facts.heap_sample = "none: another heap sample of this instance is under way";
      return;
    }
  }
  if (Status made = make_directories(incidents_dir(), 0750); !made) {
    facts.heap_sample = "none: " + made.error().describe();
    return;
  }
  HeapSampleSpec spec;
  spec.pid = action.pid;
  spec.duration = duration;
  spec.runtime = service->heap_runtime ? std::string(runtime_name(*service->heap_runtime)) : "auto";
  spec.pprof = service->pprof;
  spec.interval_bytes =
      heap_sample_interval(action.decision.slope_bytes_per_hour.value_or(0), duration);
  // Hidden, named by our pid: remove_abandoned_bundles() clears it if we die before using it.
  spec.out_path = fmt::format("{}/.tmp-{}.heap-{}", incidents_dir(), facts.id, ::getpid());
  incident.heap_report = spec.out_path;
  PendingIncident* raw = &incident;
  incident.heap = std::make_unique<HeapSampleCapture>(
      *loop_, spec, [this, raw](HeapSampleResult result) { on_heap_sample(*raw, result); });
  // Completed from the report once written (on_heap_sample): its runtime decides what it says.
  facts.heap_sample =
      fmt::format("heap_sample.json: a {} window on pid {}", format_duration(duration), action.pid);
  nlohmann::json event = incident_event("heap_sample", facts);
  event["state"] = "started";
  event["duration_ms"] = duration.count();
  event["interval_bytes"] = spec.interval_bytes;
  event["deadline_ms"] = heap_sample_deadline(duration).count();
  event["message"] =
      fmt::format("taking a {} heap sample before the incident bundle{}", format_duration(duration),
                  incident.then ? " and the recycle" : "");
  log_event(std::move(event));
}

void Supervisor::on_heap_sample(PendingIncident& incident, HeapSampleResult result) {
  if (result.report) {
    incident.content.heap_sample_path = *result.report;
    if (auto text = read_file(*result.report)) {
      auto& line = incident.content.facts.heap_sample;
      line = line.value_or("heap_sample.json") + ", " +
             heap_report_headline(nlohmann::json::parse(*text, nullptr, false));
    }
  } else {
    incident.content.facts.heap_sample = "none: " + result.why_none;
  }
  finish_incident_if_captured(incident);
}

void Supervisor::cut_heap_samples_short(const std::string& service, int instance,
                                        const std::string& why) {
  for (const auto& incident : incidents_) {
    IncidentFacts& facts = incident->content.facts;
    if (incident->done || !incident->heap || incident->heap->finished() ||
        facts.service != service || facts.instance != instance) {
      continue;
    }
    incident->heap.reset();  // kills and reaps the child
    facts.heap_sample = "none: cut short: " + why;
    if (incident->then) {
      incident->then.reset();
      facts.action = "not recycled by the leak rule: " + why;
    }
    finish_incident_if_captured(*incident);
  }
}

void Supervisor::cut_heap_samples_of_gone_processes() {
  for (const auto& incident : incidents_) {
    if (!incident->done && incident->heap && !incident->heap->finished() &&
        !process_is_current(incident->content.facts)) {
      const IncidentFacts& facts = incident->content.facts;
      cut_heap_samples_short(facts.service, facts.instance,
                             "the process exited or began stopping during the sample");
    }
  }
}

void Supervisor::log_heap_sample_done(const PendingIncident& incident,
                                      const Result<std::string>& bundle) {
  const IncidentFacts& facts = incident.content.facts;
  nlohmann::json event = incident_event("heap_sample", facts);
  const bool taken =
      std::find(facts.files.begin(), facts.files.end(), "heap_sample.json") != facts.files.end();
  if (!bundle) {
    event["state"] = "none";
    event["error"] = "the incident bundle could not be written: " + bundle.error().describe();
    event["message"] = "no heap sample: " + event["error"].get<std::string>();
  } else if (taken) {
    event["state"] = "written";
    event["path"] = *bundle + "/heap_sample.json";
    event["message"] = "heap sample written to " + *bundle + "/heap_sample.json";
  } else {
    const std::string why = facts.heap_sample.value_or("none: no report");
    event["state"] = "none";
    event["error"] = why.starts_with("none: ") ? why.substr(6) : why;
    event["message"] = "no heap sample: " + event["error"].get<std::string>();
  }
  log_event(std::move(event));
}

}  // namespace memvisor
