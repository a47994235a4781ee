// An incident bundle on disk: STATE_DIR/incidents/ID/ with summary.txt, incident.json,
// memory.csv, memory.svg, smaps_top.txt, status.txt, stacks.txt and, when a heap sample was
// taken, heap_sample.json. Built in a hidden temp dir beside it, every file fsynced, then renamed
// into place, so a reader sees a whole bundle or none.
#pragma once

#include <deque>
#include <optional>
#include <string>

#include "core/config/config.h"
#include "core/incident/incident_report.h"
#include "core/result.h"
#include "os/proc.h"
#include "supervisor/memory_watch.h"

namespace memvisor {

// What /proc says about the process, read at once when the incident starts (it is cheap, and
// the process may be stopped right after).
struct ProcCapture {
  std::string cmdline;    // arguments joined by spaces
  std::string status;     // /proc/PID/status, or why it could not be read
  std::string smaps_top;  // smaps grouped by module, or why it could not be read
};
ProcCapture capture_proc(pid_t pid, const std::string& proc_root = kProcRoot);

struct BundleContent {
  IncidentFacts facts;
  std::deque<TimedSample> samples;
  GaugeSeries gauges;  // the process's gauge series, as gauge:NAME columns of memory.csv
  std::optional<MemoryRules> rules;  // the service's, for the chart's thresholds
  ProcCapture proc;
  std::string stacks;
  // A heap sampler's report, copied in as heap_sample.json when given.
  std::optional<std::string> heap_sample_path;
};

// The start of every bundle: the unit `action` names, the time, what triggered it and what is done
// about it, its series (the last sample as its memory and age), the rules for the chart, and
// /proc read now. The id is incident_id's; callers with bundles still being captured make it
// unique among those too. Gauges and stacks are the caller's.
BundleContent start_bundle(const RuleAction& action, WallTime time, const std::string& trigger,
                           std::optional<RuleDecision> decision, std::string what_next,
                           std::deque<TimedSample> samples, std::optional<MemoryRules> rules);

// The fields every event about an incident carries (events.jsonl), under the event's `name`.
nlohmann::json incident_event(const char* name, const IncidentFacts& facts);

// Writes the bundle; returns its directory. An existing bundle of the same id is left alone and
// the new one gets a "-2", "-3" … suffix (facts.id is updated).
Result<std::string> write_incident_bundle(const std::string& incidents_dir, BundleContent& content);

// Copies a heap sampler's report into a bundle being built (its temp dir) as heap_sample.json.
Status copy_heap_sample(const std::string& bundle_dir, const std::optional<std::string>& report);

}  // namespace memvisor
