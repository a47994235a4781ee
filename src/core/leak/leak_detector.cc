// The leak detector's verdict: span statistics over the floor history and the rules (a)-(e)
// described in leak_detector.h.
#include "core/leak/leak_detector.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <span>

#include "core/leak/state_codec.h"
#include "core/units.h"

namespace memvisor {
namespace {

// Fewer windows than this cannot show a trend with confidence.
constexpr size_t kMinWindows = 5;
// More windows per span than this only add cost: Theil–Sen is quadratic in them.
constexpr int64_t kMaxWindows = 64;
// The floor's noise at a window width is estimated from at least this many windows.
constexpr int64_t kNoiseWindows = 16;
// However long the span, its slope bound is at least 95% sure.
constexpr double kMaxSpanError = 0.05;
// Rule (b): "a few" lazy-loading steps. A leak that comes in chunks needs more steps than this
// in a span before the span can report it.
constexpr int kMaxSteps = 5;
// Rule (c): slowing is a veto, so it is judged at a lower confidence than the leak itself, and it
// matters when the slope would fall below the rate within this many span lengths.
constexpr double kSlowingConfidence = 0.9;
constexpr double kSlowingHorizon = 4;
// A leak is reported once this many verdicts in a row (one per bucket) find one: a single
// verdict can slip through while a veto hovers at its threshold.
constexpr int kConfirmations = 2;
// Rule (d): a gradual fall of the floor deeper than this many noise widths is a load going down.
constexpr double kReleaseNoiseWidths = 8;
constexpr double kConfirmFraction = 0.5;

std::string mib_per_hour(double bytes_per_hour) {
  return fmt::format("{:.1f} MiB/h", bytes_per_hour / (1024.0 * 1024.0));
}

std::string duration_text(double seconds) {
  return format_duration(Millis(static_cast<int64_t>(seconds * 1000)));
}

}  // namespace

LeakDetector::LeakDetector(LeakDetectorConfig config)
    : config_(config), history_(config.resolution_s, config.history_s, config.rate_bytes_per_hour) {
  // Sized once for the largest use: pairwise slopes of a full span, or one value per bucket.
  const auto buckets = static_cast<size_t>(std::ceil(config.history_s / config.resolution_s)) + 1;
  scratch_.reserve(std::max<size_t>(kMaxWindows * (kMaxWindows - 1) / 2, buckets));
  points_.reserve(kMaxWindows);
  before_.reserve(kMaxWindows);
  hinge_.reserve(2 * kMaxWindows);
  spans_.reserve(2 * static_cast<size_t>(std::log2(static_cast<double>(buckets)) + 2));
  reset();
}

void LeakDetector::set_rule(double rate_bytes_per_hour, double warmup_s) {
  config_.rate_bytes_per_hour = rate_bytes_per_hour;
  config_.warmup_s = warmup_s;
  history_.set_rate(rate_bytes_per_hour);
}

void LeakDetector::reset() {
  history_.clear();
  streak_ = 0;
  misses_ = 0;
  reported_ = false;
  warmup_range_ = 0;
  assessment_ = LeakAssessment{};
  assessment_.reason = "no samples yet";
}

size_t LeakDetector::state_bytes() const {
  return sizeof(*this) + history_.state_bytes() + scratch_.capacity() * sizeof(double) +
         (points_.capacity() + before_.capacity() + hinge_.capacity()) * sizeof(TrendPoint) +
         spans_.capacity() * sizeof(Span);
}

void LeakDetector::add(double t_s, double bytes) {
  if (!history_.add(t_s, bytes)) return;
  assessment_ = judge();
  ++verdicts_;
  streak_ = assessment_.leaking ? streak_ + 1 : 0;
  misses_ = assessment_.leaking ? 0 : misses_ + 1;
  if (assessment_.leaking && !reported_ && streak_ < kConfirmations) {
    assessment_.leaking = false;
    assessment_.reason = "to be confirmed: " + assessment_.reason;
  } else if (assessment_.leaking) {
    reported_ = true;
  } else if (reported_ && misses_ < kConfirmations) {
    // A reported leak ends as it began, on verdicts in a row: one verdict whose bound falls at
    // the rate's edge does not make the leak, and its metric, blink off and on (an alert that
    // waits for 5 minutes of it would never fire).
    assessment_.leaking = true;
    assessment_.reason = "still leaking, to be confirmed over: " + assessment_.reason;
  } else {
    reported_ = false;
  }
}

int64_t LeakDetector::floor_window() {
  const double resolution = config_.resolution_s;
  const auto shortest = std::max<int64_t>(
      1, static_cast<int64_t>(std::ceil(history_.longest_excursion_s() / resolution)));
  // Among widths at least that long, the one at which a slope is most precise: the spread of
  // window minima shrinks with the width (slowly for Gaussian noise, fast when the floor is
  // touched rarely), and a slope's error over a fixed span goes as spread * sqrt(width).
  int64_t best = shortest;
  double best_score = std::numeric_limits<double>::infinity();
  for (int64_t w = shortest; w * kNoiseWindows <= history_.available(); w *= 2) {
    const double score = history_.floor_noise(w, scratch_) * std::sqrt(static_cast<double>(w));
    if (score < best_score) best_score = score, best = w;
  }
  return best;
}

LeakDetector::Span LeakDetector::measure(int64_t span, int64_t window) {
  const double rate = config_.rate_bytes_per_hour;
  const int64_t end = history_.end();
  const int64_t width = std::max(window, (span + kMaxWindows - 1) / kMaxWindows);
  const int64_t count = span / width;
  Span s;
  history_.floors(end, width, count, points_);
  if (points_.size() < kMinWindows) return s;
  s.span_s = static_cast<double>(count * width) * config_.resolution_s;
  s.confidence = 1 - std::min(kMaxSpanError, config_.false_alarms_per_day * s.span_s / 86400);
  const std::span<const TrendPoint> all(points_);
  s.fit = fit_trend(all, scratch_);
  s.low = s.fit.lower(s.confidence);
  s.slope = s.fit.slope;
  // The equally long stretch before the span: the onset test of rule (e) and the hinge of (a).
  history_.floors(end - count * width, width, count, before_);
  if (s.span_s >= config_.warmup_s && before_.size() >= kMinWindows) {
    // Rule (a) over a hinge: the stretch before as the level the growth starts from.
    hinge_.assign(before_.begin(), before_.end());
    hinge_.insert(hinge_.end(), all.begin(), all.end());
    const double onset = all.front().t - static_cast<double>(width) * config_.resolution_s / 7200;
    const TrendFit hinge = fit_hinge(hinge_, onset);
    const double low = hinge.lower(s.confidence);
    // Only a bound that could make the span report is worth the staircase test, which is
    // quadratic in the points (about half of a verdict's cost on a full history without cycles).
    if (low > std::max(s.low, rate) && model_beats_few_steps(hinge_, hinge.rss, 3, kMaxSteps)) {
      s.low = low;
      s.slope = hinge.slope;
      s.hinge = true;
    }
  }
  s.line = trend_beats_few_steps(all, s.fit, kMaxSteps);
  const TrendFit bend = fit_curvature(all);
  s.slowing = bend.upper(kSlowingConfidence) < 0 &&
              s.fit.slope + bend.slope * kSlowingHorizon * s.span_s / 3600 <= rate;
  s.floor_end = s.fit.intercept + s.fit.slope * all.back().t;
  const int64_t span_start = end - count * width;
  const FloorHistory::FloorRange before = history_.floor_range_before(span_start, width);
  s.novel = before.empty || s.floor_end > before.highest + load_fall_;
  s.range = warmup_range_;
  const int64_t first = history_.bucket_at_age(0);
  if (span_start < history_.bucket_at_age(config_.warmup_s) && history_.oldest() <= first) {
    const FloorHistory::FloorRange warm = history_.floor_range(first, span_start, width);
    s.range = warm.empty ? 0 : warm.highest - warm.lowest;
  }
  s.beyond = s.span_s >= config_.warmup_s || s.fit.slope * (all.back().t - all.front().t) > s.range;
  // Rule (e): a rise that began in the warm-up is either a leak or the process's first heap
  // cycle, which starts with it and can run past the warm-up (V8's first mark-compact, a heap
  // being sized); nothing in the data tells them apart before the cycle turns. So that growth is
  // judged once it has gone on past the warm-up for as long again: first cycles up to twice the
  // warm-up are never mistaken for a trend.
  const double age = history_.age_s();
  const double in_warmup = std::max(0.0, config_.warmup_s - (age - s.span_s));
  s.timely = age >= 2 * config_.warmup_s && 2 * in_warmup <= s.span_s;
  // An onset: surely faster than the equally long stretch before the span could be. A stretch
  // too curved for an interval of its own (a warm-up) is represented by its slope. Not once the
  // floor has been seen going down gradually (rule d's load fall): in a process whose floor
  // follows its load, a rise is as likely the load coming back (a cycle first seen on its way
  // down, its trough inside the warm-up) and waits for the warm-up like any other.
  if (!s.timely && load_fall_ == 0 && before_.size() >= kMinWindows) {
    const TrendFit stretch = fit_trend(before_, scratch_);
    s.timely = s.low > (stretch.usable ? stretch.upper(s.confidence) : stretch.slope);
  }
  return s;
}

LeakAssessment LeakDetector::judge() {
  LeakAssessment out;
  const int64_t window = floor_window();
  const double fall = history_.deepest_gradual_fall(window);
  load_fall_ = fall > kReleaseNoiseWidths * history_.floor_noise(window, scratch_) ? fall : 0;
  const int64_t first = history_.bucket_at_age(0);
  if (history_.oldest() <= first) {
    const int64_t warm_end = std::min(history_.bucket_at_age(config_.warmup_s), history_.end());
    const FloorHistory::FloorRange warm = history_.floor_range(first, warm_end, window);
    warmup_range_ = warm.empty ? 0 : warm.highest - warm.lowest;
  }
  out.floor_window_s = static_cast<double>(window) * config_.resolution_s;
  out.reason = "not enough history yet for " + duration_text(out.floor_window_s) + " floor windows";
  spans_.clear();
  const auto min_span = static_cast<int64_t>(kMinWindows) * window;
  for (int64_t span = min_span; span <= history_.available();
       span = static_cast<int64_t>(std::ceil(static_cast<double>(span) * std::sqrt(2.0)))) {
    spans_.push_back(measure(span, window));
  }

  const double rate = config_.rate_bytes_per_hour;
  double best_low = -std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < spans_.size(); ++i) {
    const Span& s = spans_[i];
    if (!s.fit.usable) continue;
    std::string verdict;
    if (!s.timely) {
      verdict = "too early: growth that began in the first " + duration_text(config_.warmup_s) +
                " counts from " + duration_text(2 * config_.warmup_s) + " on, or when it is sudden";
    } else if (s.low <= rate) {
      verdict = "floor slope " + mib_per_hour(s.slope) + " is not surely above the rate";
    } else if (!s.novel) {
      verdict = "the floor is regrowing to a level it has held before";
    } else if (!s.line) {
      verdict = "the growth is a few steps, not a trend";
    } else if (!s.beyond) {
      verdict = "a rise over " + duration_text(s.span_s) + " counts once it goes beyond the " +
                fmt::format("{:.1f} MiB", s.range / (1024.0 * 1024.0)) +
                " the floor moved in the warm-up";
    } else {
      for (size_t j = i; j < spans_.size(); ++j) {
        if (spans_[j].slowing) {
          verdict = "growth is slowing down over " + duration_text(spans_[j].span_s);
          break;
        }
      }
    }
    if (!verdict.empty() && s.low <= best_low) continue;
    best_low = s.low;
    out.slope_bytes_per_hour = s.slope;
    out.slope_low_bytes_per_hour = s.low;
    out.confidence = s.confidence;
    out.span_s = s.span_s;
    out.floor_bytes = s.floor_end;
    out.leaking = verdict.empty();
    out.reason = verdict;
    if (out.leaking) {
      out.reason = "floor rising " + mib_per_hour(s.slope) + " (at least " + mib_per_hour(s.low) +
                   ") over " + duration_text(s.span_s);
      if (s.hinge) out.reason += ", from the level of the " + duration_text(s.span_s) + " before";
      break;
    }
  }
  return out;
}

namespace {
// The detector's checkpoint format; bump it with any change to what save() writes (its own
// fields or FloorHistory's).
// 2 adds the reported leak's hold (reported_, misses_) at the end; a version 1 state is read as
// holding nothing more than its verdict.
constexpr uint32_t kStateVersion = 2;
}  // namespace

void LeakDetector::save(StateWriter& out) const {
  out.u32(kStateVersion);
  out.f64(config_.history_s);
  history_.save(out);
  out.boolean(assessment_.leaking);
  out.f64(assessment_.slope_bytes_per_hour);
  out.f64(assessment_.slope_low_bytes_per_hour);
  out.f64(assessment_.confidence);
  out.f64(assessment_.span_s);
  out.f64(assessment_.floor_window_s);
  out.f64(assessment_.floor_bytes);
  out.bytes(assessment_.reason);
  out.i64(streak_);
  out.u64(verdicts_);
  out.f64(load_fall_);
  out.f64(warmup_range_);
  out.boolean(reported_);
  out.i64(misses_);
}

bool LeakDetector::restore(StateReader& in) {
  reset();
  verdicts_ = 0;
  const uint32_t version = in.u32();
  if ((version != kStateVersion && version != 1) || in.f64() != config_.history_s ||
      !history_.restore(in)) {
    in.fail();
    reset();
    return false;
  }
  LeakAssessment a;
  a.leaking = in.boolean();
  a.slope_bytes_per_hour = in.f64();
  a.slope_low_bytes_per_hour = in.f64();
  a.confidence = in.f64();
  a.span_s = in.f64();
  a.floor_window_s = in.f64();
  a.floor_bytes = in.f64();
  a.reason = std::string(in.bytes());
  const int64_t streak = in.i64();
  const uint64_t verdicts = in.u64();
  const double load_fall = in.f64();
  const double warmup_range = in.f64();
  const bool reported = version >= 2 ? in.boolean() : a.leaking;
  const int64_t misses = version >= 2 ? in.i64() : 0;
  if (!in.ok() || streak < 0 || streak > 1000000 || misses < 0 || misses > 1000000) {
    in.fail();
    reset();
    return false;
  }
  assessment_ = std::move(a);
  streak_ = static_cast<int>(streak);
  verdicts_ = verdicts;
  load_fall_ = load_fall;
  warmup_range_ = warmup_range;
  reported_ = reported;
  misses_ = static_cast<int>(misses);
  return true;
}

}  // namespace memvisor
