// Floor buckets, excursion lengths and the multi-span trend tests of the leak detector.
#include "core/leak_detector.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <cstdio>
#include <cstdlib>
#include <cstdio>
#include <cstdlib>

#include "core/units.h"

namespace memvisor {
namespace {

// Fewer windows than this cannot show a trend with confidence, nor halves to compare.
constexpr int64_t kMinWindows = 5;
constexpr auto kSpanWindows = static_cast<int64_t>(LeakDetector::kMaxWindows);
// A return must go this many noise widths below the earlier level: noise alone practically never
// does (8 sigma of bucket-minimum jitter), a collection or a load drop does.
constexpr double kReturnNoiseWidths = 8;
// Excursions shorter than this share of all returns set the floor window; the rest are outliers.
constexpr double kExcursionQuantile = 0.9;
// Deceleration is a veto, so it is judged at a lower confidence than the leak itself: doubt
// about whether growth is slowing keeps the detector quiet.
constexpr double kDecelerationConfidence = 0.9;
// A span's trend is believed only if no span up to this many times longer is slowing down.
constexpr double kDecelerationLookahead = 4;
// A span is cut into up to this many parts of at least kPartWindows windows, and the floor must
// rise from every part to the next: a handful of lazy-loading steps cannot fill them all.
constexpr size_t kMaxParts = 7;
constexpr size_t kPartWindows = 3;
// Floor windows are this many excursion lengths, so that each holds a whole cycle.
constexpr double kWindowExcursions = 2;
// However long the span, its slope bound is at least 95% sure.
constexpr double kMaxSpanError = 0.05;

std::string mib_per_hour(double bytes_per_hour) {
  return fmt::format("{:.1f} MiB/h", bytes_per_hour / (1024.0 * 1024.0));
}

std::string span_text(double seconds) {
  return format_duration(Millis(static_cast<int64_t>(seconds * 1000)));
}

// True when the floor (each part's lowest window) rises from every part of the span to the next
// by more than it scatters around the trend line. Lowest windows, not slopes: a step inside a
// part then counts once, in the rise into the next part. The scatter is that of the parts' lowest
// residuals: small for noise, large when the floor is a few steps that a line fits badly.
bool rises_in_every_part(std::span<const TrendPoint> points, const TrendFit& fit) {
  const size_t n = points.size();
  static const size_t kParts = std::getenv("XP") ? std::stoul(std::getenv("XP")) : kMaxParts;
  const size_t parts = std::min(kParts, n / kPartWindows);
  if (parts < 2) return true;
  double levels[kMaxParts], residuals[kMaxParts], mean = 0;
  for (size_t q = 0; q < parts; ++q) {
    levels[q] = residuals[q] = std::numeric_limits<double>::max();
    for (size_t k = q * n / parts; k < (q + 1) * n / parts; ++k) {
      levels[q] = std::min(levels[q], points[k].y);
      residuals[q] = std::min(residuals[q], points[k].y - fit.intercept - fit.slope * points[k].t);
    }
    mean += residuals[q] / static_cast<double>(parts);
  }
  double variance = 0;
  for (size_t q = 0; q < parts; ++q) variance += (residuals[q] - mean) * (residuals[q] - mean);
  const double scatter = std::sqrt(variance / static_cast<double>(parts - 1));
  if (std::getenv("LEAK_PARTS")) { std::fprintf(stderr, "scatter %.2f levels", scatter/1048576); for (size_t q=0;q<parts;++q) std::fprintf(stderr, " %.2f(%.2f)", levels[q]/1048576, residuals[q]/1048576); std::fprintf(stderr, "\n"); }
  for (size_t q = 1; q < parts; ++q) {
    if (levels[q] - levels[q - 1] <= scatter) return false;
  }
  return true;
}

}  // namespace

LeakDetector::LeakDetector(LeakDetectorConfig config)
    : config_(config),
      capacity_(static_cast<size_t>(std::ceil(config.history_s / config.resolution_s)) + 1) {
  ring_.resize(capacity_);
  scratch_.reserve(kMaxWindows * kMaxWindows / 2);
  points_.reserve(kMaxWindows);
  reset();
}

void LeakDetector::reset() {
  head_ = size_ = 0;
  has_open_ = started_ = false;
  assessment_ = LeakAssessment{};
  assessment_.reason = "no samples yet";
}

size_t LeakDetector::state_bytes() const {
  return sizeof(*this) + ring_.capacity() * sizeof(Bucket) +
         scratch_.capacity() * sizeof(double) + points_.capacity() * sizeof(TrendPoint) +
         assessment_.reason.capacity();
}

void LeakDetector::add(double t_s, double bytes) {
  if (!std::isfinite(t_s) || !std::isfinite(bytes)) return;
  if (started_ && t_s <= last_t_) return;
  if (!started_) first_t_ = t_s;
  started_ = true;
  last_t_ = t_s;
  const auto index = static_cast<int64_t>(std::floor(t_s / config_.resolution_s));
  if (has_open_ && index != open_.index) close_bucket();
  if (!has_open_) {
    open_ = Bucket{index, bytes, t_s, -1, -1};
    has_open_ = true;
  } else if (bytes < open_.min) {
    open_.min = bytes;
    open_.t_min = t_s;
  }
}

void LeakDetector::close_bucket() {
  record_returns(open_);
  if (size_ < capacity_) {
    ring_[(head_ + size_++) % capacity_] = open_;
  } else {
    ring_[head_] = open_;
    head_ = (head_ + 1) % capacity_;
  }
  has_open_ = false;
  assessment_ = judge();
}

double LeakDetector::noise_width() {
  // Robust spread of successive bucket minima: trend and rare drops do not move a median.
  scratch_.clear();
  for (size_t k = 1; k < size_; ++k) {
    const Bucket& a = ring_[(head_ + k - 1) % capacity_];
    const Bucket& b = ring_[(head_ + k) % capacity_];
    if (b.index == a.index + 1) scratch_.push_back(b.min - a.min);
  }
  if (scratch_.size() < 2) return 0;
  auto mid = scratch_.begin() + static_cast<std::ptrdiff_t>(scratch_.size() / 2);
  std::nth_element(scratch_.begin(), mid, scratch_.end());
  const double median = *mid;
  for (double& d : scratch_) d = std::abs(d - median);
  std::nth_element(scratch_.begin(), mid, scratch_.end());
  return 1.4826 * *mid / std::sqrt(2.0);
}

void LeakDetector::record_returns(const Bucket& newest) {
  // An excursion of bucket b lasts until the signal is first back at b's level; it counts once
  // the signal has gone clearly below that level: by more than noise, and by more than a leak
  // at the threshold rate would have added meanwhile (a dip such a leak outgrows releases
  // nothing). Timing it at the first crossing, not at the confirming drop, keeps a level just
  // above the floor from looking like an excursion of several cycles.
  const double noise = kReturnNoiseWidths * noise_width();
  const double rate_per_s = config_.rate_bytes_per_hour / 3600;
  for (size_t k = 0; k < size_; ++k) {
    Bucket& b = ring_[(head_ + k) % capacity_];
    if (b.return_s >= 0) continue;
    const double elapsed = newest.t_min - b.t_min;
    if (b.back_s < 0 && newest.min <= b.min) b.back_s = elapsed;
    if (b.back_s >= 0 && newest.min < b.min - std::max(noise, rate_per_s * b.back_s)) {
      b.return_s = b.back_s;
    }
  }
}

double LeakDetector::excursion_length_s() {
  scratch_.clear();
  for (size_t k = 0; k < size_; ++k) {
    const Bucket& b = ring_[(head_ + k) % capacity_];
    if (b.return_s >= 0) scratch_.push_back(b.return_s);
  }
  if (std::getenv("XR") && static_cast<int64_t>(last_t_ - first_t_) % 3600 < 30) { std::vector<double> v(scratch_); std::sort(v.begin(), v.end()); std::fprintf(stderr, "t=%.0f n=%zu:", (last_t_-first_t_)/60, v.size()); for (size_t i = v.size() > 20 ? v.size()-20 : 0; i < v.size(); ++i) std::fprintf(stderr, " %.1f", v[i]/60); std::fprintf(stderr, "\n"); }
  if (scratch_.size() < 3) return 0;
  static const double kQ = std::getenv("XQ") ? std::stod(std::getenv("XQ")) : kExcursionQuantile;
  const auto q = static_cast<std::ptrdiff_t>(kQ *
                                             static_cast<double>(scratch_.size() - 1));
  std::nth_element(scratch_.begin(), scratch_.begin() + q, scratch_.end());
  return scratch_[static_cast<size_t>(q)];
}

std::vector<TrendPoint>& LeakDetector::floors(int64_t end, int64_t width, int64_t count) {
  const int64_t start = end - width * count;
  points_.assign(static_cast<size_t>(count), TrendPoint{0, std::numeric_limits<double>::max()});
  for (size_t k = 0; k < size_; ++k) {
    const Bucket& b = ring_[(head_ + k) % capacity_];
    if (b.index < start || b.index >= end) continue;
    TrendPoint& p = points_[static_cast<size_t>((b.index - start) / width)];
    if (b.min < p.y) p = TrendPoint{(b.t_min - first_t_) / 3600, b.min};
  }
  std::erase_if(points_, [](const TrendPoint& p) { return p.y == std::numeric_limits<double>::max(); });
  return points_;
}

double LeakDetector::floor_noise(int64_t width, int64_t end) {
  // Robust spread of successive window minima over the whole history, trend and rare drops
  // excluded by taking deviations from their median difference.
  scratch_.clear();
  double previous = 0;
  int64_t previous_window = std::numeric_limits<int64_t>::min(), current = 0;
  double lowest = std::numeric_limits<double>::max();
  for (size_t k = 0; k <= size_; ++k) {
    const Bucket* b = k < size_ ? &ring_[(head_ + k) % capacity_] : nullptr;
    const int64_t window = b ? (b->index - end) / width - (b->index < end ? 1 : 0) : current + 1;
    if (b && window == current) {
      lowest = std::min(lowest, b->min);
      continue;
    }
    if (lowest != std::numeric_limits<double>::max()) {
      if (current == previous_window + 1) scratch_.push_back(lowest - previous);
      previous = lowest;
      previous_window = current;
    }
    current = window;
    lowest = b ? b->min : lowest;
  }
  if (scratch_.size() < 8) return std::numeric_limits<double>::infinity();
  auto mid = scratch_.begin() + static_cast<std::ptrdiff_t>(scratch_.size() / 2);
  std::nth_element(scratch_.begin(), mid, scratch_.end());
  const double median = *mid;
  for (double& d : scratch_) d = std::abs(d - median);
  std::nth_element(scratch_.begin(), mid, scratch_.end());
  return 1.4826 * *mid / std::sqrt(2.0);
}

LeakAssessment LeakDetector::judge() {
  LeakAssessment out;
  if (std::getenv("XWU")) config_.warmup_s = std::stod(std::getenv("XWU"));
  if (last_t_ - first_t_ < config_.warmup_s) {
    out.reason = "warming up: " + span_text(config_.warmup_s) + " are watched before judging";
    return out;
  }
  const double excursion_s = excursion_length_s();
  int64_t window =
      std::max<int64_t>(1, static_cast<int64_t>(std::ceil((std::getenv("XW") ? std::stod(std::getenv("XW")) : kWindowExcursions) * excursion_s /
                                                          config_.resolution_s)));
  const Bucket& newest = ring_[(head_ + size_ - 1) % capacity_];
  const Bucket& oldest = ring_[head_];
  const int64_t end = newest.index + 1;
  if (std::getenv("XS")) {
    // The floor's resolution: the window width at which a slope over a given span is most
    // precise. The spread of window minima shrinks with the width, slowly for Gaussian noise,
    // fast when the floor is touched rarely (a fast sawtooth sampled slowly); the slope's error
    // for a fixed span goes as spread * sqrt(width).
    int64_t best = window;
    double best_score = std::numeric_limits<double>::infinity();
    for (int64_t w = window; w * 16 <= end - oldest.index; w *= 2) {
      const double score = floor_noise(w, end) * std::sqrt(static_cast<double>(w));
      if (std::getenv("XSD")) std::fprintf(stderr, "t=%.1f w=%ld noise=%.3f score=%.3f\n", (last_t_-first_t_)/60, w, floor_noise(w,end)/1048576, score/1048576);
      if (score < best_score) best_score = score, best = w;
    }
    window = best;
  }
  const int64_t first_index = static_cast<int64_t>(std::floor(first_t_ / config_.resolution_s));
  const int64_t available = end - std::max(oldest.index, first_index);
  out.floor_window_s = static_cast<double>(window) * config_.resolution_s;
  out.reason = "not enough history for " + span_text(out.floor_window_s) + " floor windows";

  // First every span's own statistics, shortest first; then the verdict, because a short span
  // is only trusted if no span up to kDecelerationLookahead times longer shows growth slowing.
  const double rate = config_.rate_bytes_per_hour;
  spans_.clear();
  // A span needs history before it, as long as itself up to warmup_s: without it, growth over
  // the span could be the tail of a faster phase that is slowing down.
  const auto warmup = static_cast<int64_t>(config_.warmup_s / config_.resolution_s);
  for (int64_t span = kMinWindows * window; span <= available;
       span = static_cast<int64_t>(std::ceil(static_cast<double>(span) * std::sqrt(2.0)))) {
    const int64_t width = std::max(window, (span + kSpanWindows - 1) / kSpanWindows);
    const int64_t count = span / width;
    const auto& pts = floors(end, width, count);
    if (static_cast<int64_t>(pts.size()) < kMinWindows) continue;
    SpanStats st;
    static const double kCtx = std::getenv("XC") ? std::stod(std::getenv("XC")) : 1.0;
    static const double kShare = std::getenv("XH") ? std::stod(std::getenv("XH")) : -1;
    if (kShare >= 0) {
      // Start of the span, in buckets after the first sample's bucket.
      const int64_t start = available - span;
      st.has_context = static_cast<double>(std::max<int64_t>(0, warmup - start)) <= kShare * static_cast<double>(span);
    } else {
    st.has_context = span + std::min(static_cast<int64_t>(kCtx * static_cast<double>(span)), warmup) <= available;
    }
    st.span_s = static_cast<double>(count * width) * config_.resolution_s;
    st.confidence = 1 - std::min(kMaxSpanError, (std::getenv("XA") ? std::stod(std::getenv("XA")) : config_.false_alarms_per_day) * st.span_s / 86400);
    const std::span<const TrendPoint> all(pts);
    st.fit = fit_trend(all, scratch_);
    st.low = st.fit.lower(st.confidence);
    static const int kMode = std::getenv("XM") ? std::stoi(std::getenv("XM")) : 0;
    static const int kSteps = std::getenv("XJ") ? std::stoi(std::getenv("XJ")) : 5;
    st.sustained = (kMode == 1 || rises_in_every_part(all, st.fit)) && (kMode == 0 || line_beats_steps(all, st.fit, kSteps));
    const size_t half = all.size() / 2;
    if (std::getenv("XK")) {
      // Slowing that matters: significant, and fast enough that a span later the slope would be
      // below the rate. A fast leak whose warm-up is still fading slows by a few percent only.
      const TrendFit bend = fit_curvature(all);
      const double span_h = static_cast<double>(count * width) * config_.resolution_s / 3600;
      (void)span_h;
      st.slowing = bend.upper(kDecelerationConfidence) < 0;
      static const double kH = std::getenv("XKH") ? std::stod(std::getenv("XKH")) : 0;
      if (kH > 0) st.slowing = st.slowing && st.fit.slope + bend.slope * kH * span_h <= rate;
    } else {
    st.slowing = significantly_greater(fit_trend(all.first(half), scratch_),
                                       fit_trend(all.subspan(half), scratch_),
                                       kDecelerationConfidence);
    }
    if (std::getenv("LEAK_DEBUG") && st.low > rate) {
      std::fprintf(stderr, "t=%.1f span=%.1f K=%zu w=%ld slope=%.1f se=%.2f dof=%.2f low=%.1f sus=%d slow=%d\n",
              (last_t_ - first_t_) / 60, st.span_s / 60, pts.size(), width, st.fit.slope / 1048576,
              st.fit.standard_error / 1048576, st.fit.dof, st.low / 1048576, st.sustained, st.slowing);
      for (auto& p : pts) std::fprintf(stderr, "   %.4f %.2f\n", p.t*60, p.y/1048576);
    }
    // Last: this reuses the points that `all` refers to.
    if (!st.has_context && std::getenv("XO")) {
      const auto& before = floors(end - count * width, width, count);
      if (static_cast<int64_t>(before.size()) >= kMinWindows) {
        const TrendFit prior = fit_trend(std::span<const TrendPoint>(before), scratch_);
        st.has_context = significantly_greater(st.fit, prior, st.confidence);
      }
    }
    spans_.push_back(st);
  }

  double best_low = -std::numeric_limits<double>::infinity();
  for (size_t i = 0; i < spans_.size(); ++i) {
    const SpanStats& st = spans_[i];
    std::string verdict;
    if (!st.has_context) {
      verdict = "too little history before the span to judge it";
    } else if (!st.fit.usable || st.low <= rate) {
      verdict = "floor slope " + mib_per_hour(st.fit.slope) + " is not surely above the rate";
    } else if (!st.sustained) {
      verdict = "growth is not sustained: the floor does not rise in every part of the span";
    } else {
      for (size_t j = i; j < spans_.size(); ++j) {
        if (spans_[j].span_s > kDecelerationLookahead * st.span_s) break;
        if (spans_[j].slowing) {
          verdict = "growth is slowing down over " + span_text(spans_[j].span_s) + " (converging)";
          break;
        }
      }
    }
    if (std::getenv("LEAK_WHY") && st.has_context && st.low > rate)
      std::fprintf(stderr, "t=%.1f span=%.1f low=%.1f %s\n", (last_t_ - first_t_) / 60, st.span_s / 60, st.low / 1048576, verdict.c_str());
    if (verdict.empty() || st.low > best_low) {
      best_low = st.low;
      out.slope_bytes_per_hour = st.fit.slope;
      out.slope_low_bytes_per_hour = st.fit.usable ? st.low : 0;
      out.confidence = st.confidence;
      out.span_s = st.span_s;
      out.leaking = verdict.empty();
      out.reason = verdict.empty() ? "floor rising " + mib_per_hour(st.fit.slope) +
                                         " (at least " + mib_per_hour(st.low) + ") over " +
                                         span_text(st.span_s)
                                   : verdict;
      if (out.leaking) return out;
    }
  }
  return out;
}

}  // namespace memvisor
