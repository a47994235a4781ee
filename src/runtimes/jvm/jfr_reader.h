// Reading a JFR recording with the JDK's own parser: `java -m jdk.jfr/jdk.jfr.internal.tool.Main
// print --json` (the `jfr` tool's code, in every JRE's jdk.jfr module, so no JDK is needed), run
// as a child whose output is read one event at a time, by the deadline.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "runtimes/jvm/hotspot_attach.h"
#include "runtimes/jvm/jfr_events.h"
#include "runtimes/jvm/jvm_target.h"

namespace memvisor {

// The javas that may read the recording, best first: the JVM's own (same version as the file's
// writer) when memvisor sees the same files, then $JAVA_HOME/bin/java, then java in PATH.
std::vector<std::string> jfr_reader_candidates(const JvmTarget& target);

// A copy of the recording in a private directory of memvisor's (the reader, maybe root, never
// opens a path the JVM's user controls); removed with it.
class JfrLocalCopy {
 public:
  static Result<JfrLocalCopy> create(std::string_view bytes);
  JfrLocalCopy(JfrLocalCopy&& other) noexcept : dir_(std::move(other.dir_)) { other.dir_.clear(); }
  JfrLocalCopy& operator=(JfrLocalCopy&&) = delete;
  JfrLocalCopy(const JfrLocalCopy&) = delete;
  ~JfrLocalCopy();
  std::string path() const { return dir_ + "/window.jfr"; }

 private:
  JfrLocalCopy() = default;
  std::string dir_;
};

// The heap-sample events of the .jfr at `path` (memvisor's own copy), tried with each candidate
// java until one reads it.
Result<std::vector<JfrSample>> read_jfr_samples(const std::vector<std::string>& javas,
                                                const std::string& path, Deadline deadline);

}  // namespace memvisor
