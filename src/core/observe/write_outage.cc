// Write outages: one message when writing a file starts failing, one summary when it resumes.
#include "core/observe/write_outage.h"

#include <cerrno>

#include <fmt/format.h>

namespace memvisor {

std::string outage_cause(int errnum) {
  if (errnum == ENOSPC || errnum == EDQUOT) return "while the disk was full";
  if (errnum == EROFS) return "while the file system was read-only";
  return "while it could not be written";
}

std::optional<std::string> WriteOutage::failed(const Error& error) {
  if (dropped_++ > 0) return std::nullopt;
  first_errnum_ = error.errnum;
  return fmt::format("{}: cannot write ({}); dropping {} until it can be written again", what_,
                     error.describe(), unit_);
}

std::optional<std::string> WriteOutage::succeeded() {
  if (dropped_ == 0) return std::nullopt;
  std::string summary = fmt::format("{}: {} {} dropped {}; writing again", what_, dropped_,
                                    dropped_ == 1 ? unit_.substr(0, unit_.size() - 1) : unit_,
                                    outage_cause(first_errnum_));
  dropped_ = 0;
  first_errnum_ = 0;
  return summary;
}

}  // namespace memvisor
