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
};

// Returns the path of the JSON report.
Result<std::string> write_crash_report(const CrashReportInput& input);

}  // namespace memvisor
