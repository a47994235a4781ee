// The runtime of a live process, from /proc/PID/exe (its name, and its ELF sections for Go) and
// /proc/PID/maps.
#pragma once

#include <string>

#include "core/proc/runtime_kind.h"

namespace memvisor {

RuntimeKind detect_runtime(int pid, const std::string& proc_root = "/proc");

}  // namespace memvisor
