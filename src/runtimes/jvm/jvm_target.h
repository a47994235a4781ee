// What memvisor must know about a process before it sends it anything: that it is a HotSpot JVM
// accepting attach, its pid inside its own namespace, its user, its file system, whether it
// handles SIGQUIT. Every refusal is decided here, before any signal.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "os/unique_fd.h"
#include "runtimes/jvm/hsperfdata.h"

namespace memvisor {

struct ProcIds {
  int nspid = 0;  // the last NSpid: the pid the JVM knows itself by
  uid_t euid = 0;
  gid_t egid = 0;
  uint64_t caught_signals = 0;  // SigCgt: bit N-1 set when signal N has a handler
};

// Pure: the fields of /proc/PID/status above; nothing when one is missing.
std::optional<ProcIds> parse_status_ids(std::string_view status);
// Pure: the path of the mapped libjvm.so (as the process sees it), "" when none is mapped.
std::string libjvm_path(std::string_view maps);
// Pure: an Eclipse OpenJ9 VM (it maps libjvm.so too, with another attach mechanism).
bool is_openj9(std::string_view maps);
// Pure: -XX:+DisableAttachMechanism among NUL- or space-separated options (a cmdline or
// JAVA_TOOL_OPTIONS), the later of a +/- pair winning as in HotSpot.
bool disables_attach(std::string_view options);

struct JvmTarget {
  int pid = 0;     // in memvisor's namespace
  UniqueFd pidfd;  // opened before the checks, so that a signal reaches the process checked
  ProcIds ids;
  std::string proc_dir;   // PROC/PID
  std::string root;       // PROC/PID/root: paths of the JVM's own view, reached from here
  std::string java_home;  // in the JVM's view, from libjvm.so's path; "" when unknown
  bool same_mount_namespace = false;
  std::optional<PerfData> perf;  // nothing under -XX:-UsePerfData
};

// The target, or the one reason it cannot be sampled, nothing having been sent to it: not a
// process, not HotSpot (OpenJ9, or no libjvm.so: a signal would kill it), attach disabled
// (-XX:+DisableAttachMechanism), or another user than memvisor's, which is not root.
Result<JvmTarget> inspect_jvm(int pid, const std::string& proc_root);

}  // namespace memvisor
