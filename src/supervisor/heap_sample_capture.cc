#include "supervisor/heap_sample_capture.h"

#include <sys/stat.h>

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

namespace memvisor {
namespace {

constexpr uint64_t kMinInterval = 32 << 10;
constexpr uint64_t kMaxInterval = 512 << 10;
constexpr double kLeakSamplesWanted = 64;
// The process opens the window at its next allocation, and answers once it closes.
constexpr Millis kAnswerMargin{10000};
// libdwfl's symbol work for a large process, after the window.
constexpr Millis kSymbolMargin{30000};
constexpr size_t kMaxSampleSummary = 64 << 10;  // the report goes to a file; this is its summary

ChildCommand sample_command(const HeapSampleSpec& spec) {
  ChildCommand command{
      {spec.executable, "sample", "--pid", std::to_string(spec.pid), "--duration",
       format_duration_exact(spec.duration), "--timeout",
       format_duration_exact(spec.duration + kAnswerMargin), "--interval",
       std::to_string(spec.interval_bytes), "--out", spec.out_path, "--runtime", spec.runtime},
      {}};
  if (!spec.pprof.empty()) {
    command.argv.push_back("--pprof");
    command.argv.push_back(spec.pprof);
  }
  return command;
}

// The child's own reason ("memvisor: no heap sampler control page ..."), else how it ended.
std::string failure_reason(const ChildOutcome& outcome, Millis duration) {
  if (outcome.timed_out) {
    return fmt::format("the heap sample did not finish within {} and was stopped",
                       format_duration(heap_sample_deadline(duration)));
  }
  const std::string prefix = "memvisor: ";
  std::string reason;
  size_t at = 0;
  while (at < outcome.output.size()) {
    const size_t end = std::min(outcome.output.find('\n', at), outcome.output.size());
    if (outcome.output.compare(at, prefix.size(), prefix) == 0) {
      reason = outcome.output.substr(at + prefix.size(), end - at - prefix.size());
    }
    at = end + 1;
  }
  if (reason.empty()) reason = outcome.note.empty() ? "it wrote no report" : outcome.note;
  return "the heap sample failed: " + reason;
}

}  // namespace

uint64_t heap_sample_interval(double slope_bytes_per_hour, Millis duration) {
  const double leaked =
      std::max(0.0, slope_bytes_per_hour) / 3'600'000 * static_cast<double>(duration.count());
  const double interval = std::floor(leaked / kLeakSamplesWanted);
  if (!(interval < static_cast<double>(kMaxInterval))) return kMaxInterval;  // NaN too
  return std::max(kMinInterval, static_cast<uint64_t>(interval));
}

Millis heap_sample_deadline(Millis duration) {
  return duration + kAnswerMargin + kSymbolMargin;
}

HeapSampleCapture::HeapSampleCapture(EventLoop& loop, const HeapSampleSpec& spec, Done done)
    : child_(
          loop, sample_command(spec), heap_sample_deadline(spec.duration),
          [done = std::move(done), spec](ChildOutcome outcome) {
            HeapSampleResult result;
            struct stat st {};
            if (outcome.succeeded && ::stat(spec.out_path.c_str(), &st) == 0 && st.st_size > 0) {
              result.report = spec.out_path;
            } else {
              result.why_none = failure_reason(outcome, spec.duration);
            }
            done(std::move(result));
          },
          kMaxSampleSummary) {}

}  // namespace memvisor
