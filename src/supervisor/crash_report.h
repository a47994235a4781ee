// The `critical` rule's crash report: memvisor-crash-YYYYMMDD-HHMMSS-SERVICE.N.json and a human
// -summary.txt next to it in STATE_DIR/incidents, each written atomically (temp, fsync, rename).
#pragma once

#include <deque>
#include <string>

#include "core/config/config.h"
#include "core/result.h"
#include "core/time_format.h"
#include "supervisor/memory_watch.h"

namespace memvisor {

struct CrashReportInput {
  std::string incidents_dir;
  WallTime time;
  const ServiceConfig* service = nullptr;
  RuleAction action;
  const std::deque<TimedSample>* samples = nullptr;  // may be null
  std::string proc_root = kProcRoot;
  // What is done to the process, in words (the summary's `action:` line).
  std::string action_text = "stopped at once (no surge); it restarts per its restart policy";
};

// Returns the path of the JSON report. Two reports of one unit within a second get "-2", "-3" …
// before their extensions, never overwriting each other.
Result<std::string> write_crash_report(const CrashReportInput& input);

}  // namespace memvisor
