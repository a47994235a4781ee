// The `leak` rule's trend detector: decides from a worker's memory samples whether its memory
// *floor* keeps rising at least at the configured rate, rather than merely moving.
//
// Why it works this way:
// - A leak is memory that is never given back, so it raises the floor: the lower envelope the
//   process returns to after each collection, burst or load peak. GC sawtooth, load cycles and
//   spikes are excursions above the floor and do not move it, so trends are fitted to minima of
//   windows, never to raw samples (FloorHistory keeps one minimum per 30 s bucket).
// - A window's minimum is the floor only if the window is as long as the excursions. Their length
//   is measured, not assumed: the time from a level, up and back down to it, confirmed by the
//   signal going clearly below it. Floor windows are at least the longest excursion seen, so a
//   10-minute GC cycle or a 2-hour load cycle is averaged away, while a process without cycles
//   keeps 30-second windows and a runaway leak is seen within minutes. Longer windows are used
//   when the floor is sharper there (a fast sawtooth sampled slowly only rarely shows its floor).
// - Growth is judged over spans from a few windows to the whole history, √2 apart. A span
//   reports a leak when all of these hold:
//   (a) the Theil–Sen slope's lower confidence bound exceeds the rate. It is a t-interval on the
//       residuals, widened for their lag-1 autocorrelation, so structure (steps, curvature,
//       unfinished cycles) counts as little evidence. Its error budget is `false_alarms_per_day`
//       shared out by span length, since a detector re-judging every bucket makes about one
//       independent test per span length. A span at least as long as the warm-up may instead be
//       judged as an onset: a hinge fitted over it and the equally long stretch before it (flat
//       there, then a line), whose slope bound counts when higher and when no staircase of up to
//       5 steps explains both stretches better (b's test). A leak that starts after a flat
//       stretch shows in a few cycle-long windows; the flat stretch gives the level it started
//       from and as many windows again to measure the noise, so the bound needs far less time
//       than a line through the span alone. Not for shorter spans: a heap expansion or a burst of
//       lazy-loading steps after a flat stretch is such a hinge for its first minutes;
//   (b) a straight line explains the floor better (BIC) than any staircase of up to 5 steps:
//       a few lazy-loading steps are not a trend, a leak that comes in chunks shows many steps;
//   (c) no span ending now, this long or longer, shows growth slowing significantly and
//       materially (a fitted parabola whose slope would fall below the rate within 4 span
//       lengths): warm-up, cache fill and fragmentation converge, a leak does not;
//   (d) the floor ends above every earlier floor, by more than the deepest gradual fall of the
//       floor seen (a load going down, whose return is not new ground; a single release does
//       not count): regrowing to a level already held is recovery, not a leak;
//   (e) the process is at least twice `warmup_s` old and at most half of the span lies in its
//       first `warmup_s`, unless the span is an onset, growing significantly faster than the
//       stretch before it. A process's start (cache fill, its first heap cycle) looks like a leak
//       until its cycle has been seen to turn, and a first cycle can run past the warm-up (V8
//       sizes its old generation as the heap grows: the first mark-compact may come after 40
//       minutes, the later ones every 25); a rise that began in the warm-up is judged once it
//       has gone on past it for as long again. A late leak is an onset, and so is a runaway leak
//       right after start: both are caught because they are sudden. Not once the floor has been
//       seen going down gradually (d's load fall): where the floor follows the load, a rise is as
//       likely the load coming back (a cycle first seen on its way down, its trough inside the
//       warm-up) and waits like any other.
//   (f) a span shorter than the warm-up has taken the floor up by more than the range the floor
//       covered in the warm-up (before the span, for a span that starts in it). The warm-up shows
//       how far this process moves its floor on its own (cache fill, heap sizing); it may do so
//       again later (a collector committing more heap at a load peak), and the first minutes of
//       such a rise are a clean fast line. A runaway leak soon goes beyond it, and slower growth
//       is judged over spans as long as the warm-up, where (a)-(d) tell it from steps and
//       cycles.
// - A leak is reported when two verdicts in a row (one per bucket) find one, and ends when two in
//   a row find none.
// - The threshold rate is the only absolute number; every time scale comes from the data.
//
// Limits: a cycle longer than the history seen so far (a daily cycle on its first day, a process
// that idles and then starts a first GC ramp) is indistinguishable from a trend until it turns;
// rule (d) covers such a cycle only when it was first seen going down far enough.
//
// Cost: add() is O(1) except once per bucket, when the verdict is renewed in O(buckets * spans +
// spans * 64^2), about 0.4 ms with a full 12 h history; the hinge of rule (a) adds about 10%
// (BENCHMARKS.md, "The hinge"). Memory is fixed at construction and
// proportional to history_s / resolution_s: 40 bytes per bucket plus scratch of the same order,
// 79 KiB with the defaults (1441 buckets); see state_bytes().
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "core/leak/leak_detector_floor.h"
#include "core/leak/leak_detector_stats.h"

namespace memvisor {

class StateReader;
class StateWriter;

struct LeakDetectorConfig {
  double rate_bytes_per_hour = 0;  // the rule's threshold: report floor growth at least this fast
  double resolution_s = 30;        // finest floor window; also how often the verdict is renewed
  double history_s = 12 * 3600.0;  // how far back trends are looked for (bounds the memory)
  double warmup_s = 30 * 60.0;     // the start of a process, when growth is expected (rule e)
  // Accepted false alarms per day of watching a process whose floor is steady under independent
  // noise (rule a). Structure is handled by the other rules, not by this budget.
  double false_alarms_per_day = 0.001;
};

struct LeakAssessment {
  bool leaking = false;
  double slope_bytes_per_hour = 0;      // floor slope over `span_s`
  double slope_low_bytes_per_hour = 0;  // its lower confidence bound
  double confidence = 0;                // of that bound
  double span_s = 0;                    // the span the numbers describe (0: none judged yet)
  double floor_window_s = 0;            // the window length floors were taken over
  double floor_bytes = 0;               // the fitted floor at the span's end
  std::string reason;                   // why it is or is not a leak, for status and logs
};

class LeakDetector {
 public:
  explicit LeakDetector(LeakDetectorConfig config);

  // One memory sample. Times must increase (older or equal samples are ignored).
  void add(double t_s, double bytes);
  // The verdict as of the last completed bucket. When not leaking, the numbers describe the span
  // with the strongest evidence of growth.
  const LeakAssessment& assess() const { return assessment_; }
  // The floor slope of assess(), for a metric: no extra work.
  double slope_bytes_per_second() const { return assessment_.slope_bytes_per_hour / 3600; }
  // How many verdicts assess() has given (one per completed bucket): a caller that wants every
  // verdict (`replay --explain`) sees when a new one came.
  uint64_t verdicts() const { return verdicts_; }
  double rate_bytes_per_hour() const { return config_.rate_bytes_per_hour; }
  void reset();
  // A reload changed the rule: the new rate and warm-up judge the history already kept, from
  // the next verdict on (at most `resolution_s` away), so a reload costs no evidence.
  void set_rule(double rate_bytes_per_hour, double warmup_s);

  // A supervisor checkpoint (state_codec.h): the history and the verdict state, so a restored
  // detector fed the next samples gives exactly the verdicts this one would. The rule (rate,
  // warm-up) is not saved: the restoring supervisor's config gives it.
  void save(StateWriter& out) const;
  // False, the detector left reset, when `in` is not a detector state of this resolution and
  // history length (another format, or another build's constants).
  bool restore(StateReader& in);

  // Bytes held by this object and its buffers (the reason text aside); fixed at construction,
  // whatever the number of samples.
  size_t state_bytes() const;

 private:
  struct Span {
    double span_s = 0, confidence = 0, low = 0;
    TrendFit fit;
    bool hinge = false;    // (a) `low` is the hinge's: growth from the stretch before's level
    double slope = 0;      // the slope `low` bounds (the line's, or the hinge's after its onset)
    bool line = false;     // (b) a line beats every staircase
    bool slowing = false;  // (c) growth slows significantly and materially
    bool novel = false;    // (d) ends above every earlier floor
    bool timely = false;   // (e) mostly after warm-up, or an onset
    bool beyond = false;   // (f) longer than the warm-up, or rose beyond the floor's range
    double range = 0;      // (f) the range the floor covered in the warm-up, bytes
    double floor_end = 0;  // the fitted floor at the span's end, bytes
  };

  int64_t floor_window();
  Span measure(int64_t span, int64_t window);
  LeakAssessment judge();

  LeakDetectorConfig config_;
  FloorHistory history_;
  LeakAssessment assessment_;
  int streak_ = 0;         // leak verdicts in a row
  int misses_ = 0;         // verdicts without a leak in a row
  bool reported_ = false;  // a leak is reported (confirmed, and not yet ended by misses)
  uint64_t verdicts_ = 0;
  double load_fall_ = 0;  // the deepest gradual fall of the floor, when it is more than noise
  // How far the floor moved during the warm-up (rule f), kept once the warm-up has left the
  // history.
  double warmup_range_ = 0;
  std::vector<double> scratch_;
  std::vector<TrendPoint> points_;  // the span's window floors
  std::vector<TrendPoint> before_;  // those of the equally long stretch before it
  std::vector<TrendPoint> hinge_;   // both, for the hinge of rule (a)
  std::vector<Span> spans_;
};

}  // namespace memvisor
