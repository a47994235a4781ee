// One file's write failures told once: the first failure of an outage gives one message, the
// writes dropped after it are only counted, and the first write that succeeds again gives the
// summary ("events.jsonl: 1234 lines dropped while the disk was full"). A full or read-only disk
// would otherwise put a log line on memvisor's own stream for every line it could not write.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/result.h"

namespace memvisor {

class WriteOutage {
 public:
  // `what` names the file in the messages ("events.jsonl", "web.1's log"); `unit` is what a
  // dropped write loses, plural ("lines", "crash reports").
  WriteOutage(std::string what, std::string unit)
      : what_(std::move(what)), unit_(std::move(unit)) {}

  // A write that failed and was dropped: the message to log when it starts an outage.
  std::optional<std::string> failed(const Error& error);
  // A write that succeeded: the summary to log when it ends an outage.
  std::optional<std::string> succeeded();
  // Either of the two, by the write's status.
  std::optional<std::string> record(const Status& written) {
    return written ? succeeded() : failed(written.error());
  }

  bool in_outage() const { return dropped_ > 0; }
  uint64_t dropped() const { return dropped_; }

 private:
  std::string what_;
  std::string unit_;
  uint64_t dropped_ = 0;
  int first_errnum_ = 0;
};

// "while the disk was full" (ENOSPC, EDQUOT), "while the file system was read-only" (EROFS),
// else "while it could not be written".
std::string outage_cause(int errnum);

}  // namespace memvisor
