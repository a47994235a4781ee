// One memory sample of a process at a time since its start: the unit of the retained series that
// status, the rules' history and incident bundles read.
#pragma once

#include "core/rules/memory_rules.h"

namespace memvisor {

struct TimedSample {
  double t_s = 0;  // seconds since the process started
  MemoryValues values;
};

}  // namespace memvisor
