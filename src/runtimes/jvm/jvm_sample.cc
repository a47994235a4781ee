// sample_jvm(): one window of a HotSpot JVM through its attach mechanism: a JFR recording of
// jdk.OldObjectSample and jdk.ObjectAllocationSample only, a class histogram at each end of the
// window, then the recording stopped into a file in the JVM's /tmp, read by the JDK's own JFR
// parser and turned into a profile.
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <random>
#include <thread>

#include "os/pidfd.h"
#include "runtimes/jvm/class_histogram.h"
#include "runtimes/jvm/hotspot_attach.h"
#include "runtimes/jvm/jfr_reader.h"
#include "runtimes/jvm/jvm_profile.h"
#include "runtimes/jvm/jvm_scratch_dir.h"
#include "runtimes/jvm/jvm_target.h"
#include "runtimes/jvm/jvm_window_settings.h"
#include "runtimes/runtime_sample.h"

namespace memvisor {
namespace {

using JvmClock = std::chrono::steady_clock;

// Above this much heap in use the histograms' full GCs would stop the application too long.
constexpr uint64_t kHistogramHeapLimit = uint64_t{1} << 30;
constexpr size_t kMaxRecordingBytes = size_t{256} << 20;

int64_t unix_now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

Millis elapsed_since(JvmClock::time_point start) {
  return std::chrono::duration_cast<Millis>(JvmClock::now() - start);
}

// A histogram and how long the full GC it forces took (the round trip, an upper bound).
struct TimedHistogram {
  ClassHistogram histogram;
  Millis took{0};
};

Result<TimedHistogram> take_histogram(const JvmTarget& target, Deadline deadline) {
  const auto start = JvmClock::now();
  auto reply = run_jcmd(target, "GC.class_histogram", deadline);
  if (!reply) return reply.error();
  TimedHistogram out;
  out.took = elapsed_since(start);
  auto parsed = parse_class_histogram(reply->output);
  if (!parsed) return parsed.error();
  out.histogram = std::move(*parsed);
  return out;
}

// The recording, stopped (without a file) when the sample ends early: the JVM's own duration
// limit stops it otherwise.
class JfrRecording {
 public:
  JfrRecording(const JvmTarget& target, std::string name, Deadline deadline)
      : target_(target), name_(std::move(name)), deadline_(deadline) {}
  JfrRecording(const JfrRecording&) = delete;
  JfrRecording& operator=(const JfrRecording&) = delete;
  ~JfrRecording() {
    if (!running_) return;
    const Deadline soon = std::min(deadline_, JvmClock::now() + std::chrono::seconds(2));
    (void)run_jcmd(target_, "JFR.stop name=" + name_, soon);
  }

  Status start(const std::string& settings, Millis limit) {
    const std::string command =
        "JFR.start name=" + name_ + " settings=" + settings +
        " disk=false duration=" + std::to_string(std::max<int64_t>(limit.count() / 1000, 1)) + "s";
    auto reply = run_jcmd(target_, command, deadline_);
    if (!reply) return reply.error();
    if (reply->code != 0 || reply->output.find("Started recording") == std::string::npos)
      return Error{"JFR.start: " + attach_reply_text(*reply), 0};
    running_ = true;
    return {};
  }

  Status stop_into(const std::string& file) {
    auto reply = run_jcmd(target_, "JFR.stop name=" + name_ + " filename=" + file, deadline_);
    if (!reply) return reply.error();
    running_ = false;  // whatever it answered, the JVM was asked to stop it
    if (reply->code != 0 || reply->output.find("Stopped recording") == std::string::npos)
      return Error{"JFR.stop: " + attach_reply_text(*reply), 0};
    return {};
  }

 private:
  const JvmTarget& target_;
  std::string name_;
  Deadline deadline_;
  bool running_ = false;
};

std::string recording_name() {
  std::random_device random;
  return "memvisor-" + std::to_string(::getpid()) + "-" + std::to_string(random() % 1000000);
}

// The window on a JVM that inspect_jvm() accepted.
Result<RuntimeProfile> sample_inspected_jvm(const JvmTarget& jvm,
                                            const RuntimeSampleRequest& request,
                                            const SampleProgress& progress,
                                            JvmClock::time_point started) {
  const Deadline deadline = started + request.timeout;
  const auto report = [&](const char* state) {
    if (progress) progress(elapsed_since(started), state);
  };
  report("attaching");
  if (auto listening = start_attach_listener(jvm, deadline); !listening) return listening.error();
  auto scratch = JvmScratchDir::create(jvm);
  if (!scratch) return scratch.error();
  const JvmWindowSettings settings = jvm_window_settings(request.duration);
  if (auto written = scratch->write("memvisor.jfc", settings.jfc); !written) return written.error();

  JvmWindow window;
  window.allocation_throttle = settings.allocation_throttle;
  // The recording starts first: JFR's own start-up (its classes, buffers and threads, the first
  // time a JVM records) then falls before the first histogram and outside the window.
  JfrRecording recording(jvm, recording_name(), deadline);
  if (auto begun =
          recording.start(scratch->theirs("memvisor.jfc"), request.timeout + Millis(60000));
      !begun)
    return begun.error();
  std::optional<uint64_t> heap_used = jvm.perf ? jvm.perf->heap_used() : std::nullopt;
  std::optional<TimedHistogram> before;
  if (!heap_used || *heap_used <= kHistogramHeapLimit) {
    auto taken = take_histogram(jvm, deadline);
    if (!taken) return taken.error();
    before = std::move(*taken);
  } else {
    window.caveats.push_back(
        "no class histograms: each forces a full GC, too long a pause with " +
        std::to_string(*heap_used >> 20) +
        " MiB of heap in use (the limit is 1 GiB); by_type comes from the samples");
  }
  window.start_ns = unix_now_ns();
  const auto window_start = JvmClock::now();
  // The window, cut short when the timeout would leave no time to end it.
  const auto reserve = std::min<JvmClock::duration>(std::chrono::seconds(5), request.timeout / 4);
  const auto window_end = std::min(window_start + request.duration, deadline - reserve);
  while (JvmClock::now() < window_end) {
    if (jvm.pidfd.valid() && pidfd_exited(jvm.pidfd.get()))
      return Error{"pid " + std::to_string(jvm.pid) + " exited during the window", 0};
    report("recording");
    std::this_thread::sleep_for(
        std::min<JvmClock::duration>(std::chrono::milliseconds(200), window_end - JvmClock::now()));
  }
  window.window_s = std::chrono::duration<double>(JvmClock::now() - window_start).count();
  const bool cut = JvmClock::now() - window_start < request.duration;

  report("ending the window");
  if (before) {
    auto after = take_histogram(jvm, deadline);
    if (!after) return after.error();
    window.before = std::move(before->histogram);
    window.after = std::move(after->histogram);
    window.caveats.push_back(
        "GC.class_histogram forced a full (stop-the-world) GC at each end "
        "of the window: " +
        std::to_string(before->took.count()) + " ms and " + std::to_string(after->took.count()) +
        " ms, requests included");
  }
  if (auto stopped = recording.stop_into(scratch->theirs("window.jfr")); !stopped)
    return stopped.error();
  auto bytes = scratch->take("window.jfr", jvm.ids.euid, kMaxRecordingBytes);
  if (!bytes) return bytes.error();

  report("reading the recording");
  auto copy = JfrLocalCopy::create(*bytes);
  if (!copy) return copy.error();
  auto samples = read_jfr_samples(jfr_reader_candidates(jvm), copy->path(), deadline);
  if (!samples) return samples.error();
  window.samples = std::move(*samples);
  RuntimeProfile profile = jvm_profile(window);
  profile.pid = static_cast<uint32_t>(request.pid);
  if (cut) {
    profile.complete = false;
    profile.caveats.insert(profile.caveats.begin(),
                           "the window was cut short to end within the timeout");
  }
  return profile;
}

}  // namespace

Result<RuntimeProfile> sample_jvm(const RuntimeSampleRequest& request,
                                  const SampleProgress& progress) {
  const auto started = JvmClock::now();
  auto target = inspect_jvm(request.pid, request.proc_root);
  if (!target) return target.error();
  auto profile = sample_inspected_jvm(*target, request, progress, started);
  // A JVM that went away mid-way makes the attach socket's errors read as its own fault.
  if (!profile && target->pidfd.valid() && pidfd_exited(target->pidfd.get()) &&
      profile.error().message.find("exited during") == std::string::npos)
    return Error{"pid " + std::to_string(request.pid) + " exited during the sample (" +
                     profile.error().describe() + ")",
                 0};
  return profile;
}

}  // namespace memvisor
