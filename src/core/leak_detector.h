// The `leak` rule's trend detector: decides from a worker's memory samples whether its memory
// *floor* is rising at least at the configured rate, steadily, rather than merely moving.
//
// Why it works this way:
// - A leak is memory that is never given back, so it raises the floor: the lower envelope that
//   the process returns to after each collection, burst or load peak. Garbage-collector
//   sawtooth, load cycles and spikes are excursions *above* the floor; they do not move it. The
//   detector therefore fits trends to minima of windows, never to raw samples.
// - A window's minimum is the floor only if the window is at least as long as the excursions.
//   The detector measures them from the data: a "return" is the signal coming back clearly
//   below (by several noise widths) a level it was at earlier; the time it took is the length of
//   one excursion. Floor windows are at least the 90th percentile of those times, so a 10-minute
//   GC cycle or a 2-hour load cycle is averaged away, while a process with no cycles keeps
//   30-second windows and a runaway leak is seen within minutes. Nothing here is a constant tuned
//   to a workload; the threshold rate is the only absolute number.
// - Growth is judged at several spans (√2 apart), each cut into windows of the floor length.
//   A span reports a leak when all of these hold:
//   (a) the Theil–Sen slope's one-sided lower confidence bound exceeds the rate. The interval is
//       a t-interval on the residuals, widened for their lag-1 autocorrelation, so steps,
//       curvature and unfinished cycles (runs of same-signed residuals) count as little evidence;
//   (b) both halves of the span grow at least at the rate: the growth is sustained, not one
//       step or one burst (a few lazy-loading steps leave a flat half);
//   (c) the recent half is not significantly slower than the earlier half, and the span is not
//       significantly slower than the span before it: growth that is slowing down is warm-up,
//       cache fill or fragmentation converging, not a leak.
// - The first `warmup_s` of a process are never judged: its normal cycle is unknown until it has
//   been seen, and a first GC ramp looks exactly like a leak.
//
// Cost: add() is O(1); once per `resolution_s` bucket the assessment costs
// O(buckets + spans * kMaxWindows^2). Memory is bounded by history_s / resolution_s buckets
// (about 70 KiB for the 12 h default at 30 s) plus fixed scratch; see state_bytes().
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/leak_detector_stats.h"

namespace memvisor {

struct LeakDetectorConfig {
  double rate_bytes_per_hour = 0;  // the rule's threshold: report growth at least this fast
  double resolution_s = 30;        // finest floor window; also how often the verdict is renewed
  double history_s = 12 * 3600.0;  // how far back trends are looked for (bounds the memory)
  double warmup_s = 30 * 60.0;     // never report before the process has been seen this long
  // Accepted false alarms per day of watching a process with a steady floor and independent
  // noise. A span of length L gets the share L / 1 day of this budget as its one-sided error,
  // since a detector that looks again every bucket makes about one independent test per span
  // length: short spans must be very sure, long ones may be less so.
  double false_alarms_per_day = 0.001;
};

struct LeakAssessment {
  bool leaking = false;
  double slope_bytes_per_hour = 0;      // floor slope over `span_s`
  double slope_low_bytes_per_hour = 0;  // its lower confidence bound
  double confidence = 0;                // of that bound
  double span_s = 0;                    // the span the numbers describe (0: none judged yet)
  double floor_window_s = 0;            // the window length floors were taken over
  std::string reason;                   // why it is or is not a leak, for status and logs
};

class LeakDetector {
 public:
  explicit LeakDetector(LeakDetectorConfig config);

  // One memory sample. Times must not go backwards (older or equal samples are ignored).
  void add(double t_s, double bytes);
  // The verdict as of the last completed bucket.
  const LeakAssessment& assess() const { return assessment_; }
  // Current floor slope estimate for a metric (0 until one span could be judged).
  double slope_bytes_per_second() const { return assessment_.slope_bytes_per_hour / 3600; }
  void reset();

  // Bytes held by this object: constant after construction, whatever the number of samples.
  size_t state_bytes() const;

  static constexpr size_t kMaxWindows = 64;  // windows per span: caps the Theil–Sen cost

 private:
  struct Bucket {
    int64_t index = 0;      // floor(t / resolution)
    double min = 0;         // lowest sample
    double t_min = 0;       // when it was seen
    double back_s = -1;     // when the signal was first back at `min` (seconds after t_min; -1: not yet)
    double return_s = -1;   // the excursion's length, once the signal went clearly below `min`
  };

  struct SpanStats {
    double span_s = 0, confidence = 0, low = 0;
    TrendFit fit;
    bool has_context = false;  // enough history before the span to know what preceded it
    bool sustained = false;    // the floor rises from every part of the span to the next
    bool slowing = false;    // its late half grows significantly slower than its early half
  };

  void close_bucket();
  void record_returns(const Bucket& newest);
  double noise_width();
  double excursion_length_s();
  double floor_noise(int64_t width, int64_t end);
  LeakAssessment judge();
  // Minima of `count` windows of `width` buckets ending at bucket index `end` (exclusive).
  std::vector<TrendPoint>& floors(int64_t end, int64_t width, int64_t count);

  LeakDetectorConfig config_;
  size_t capacity_;
  std::vector<Bucket> ring_;  // the last `capacity_` buckets, oldest first from `head_`
  size_t head_ = 0, size_ = 0;
  Bucket open_;
  bool has_open_ = false;
  double first_t_ = 0, last_t_ = 0;
  bool started_ = false;
  LeakAssessment assessment_;
  std::vector<double> scratch_;
  std::vector<TrendPoint> points_;
  std::vector<SpanStats> spans_;
};

}  // namespace memvisor
