// Bucket minima, excursion lengths and window floors for the leak detector.
#include "core/leak/leak_detector_floor.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/leak/state_codec.h"

namespace memvisor {
namespace {

// An excursion is confirmed when the signal goes this many noise widths below the level it left:
// noise alone practically never does, a collection or a load drop does.
constexpr double kReturnNoiseWidths = 8;

constexpr double kNone = std::numeric_limits<double>::max();

// 1.4826 * MAD / sqrt(2) of `diffs`: the spread of one value when `diffs` are differences of
// successive values. Deviations from the median difference, so a trend does not count.
double robust_spread(std::vector<double>& diffs) {
  if (diffs.size() < 2) return 0;
  const auto mid = diffs.begin() + static_cast<std::ptrdiff_t>(diffs.size() / 2);
  std::nth_element(diffs.begin(), mid, diffs.end());
  const double median = *mid;
  for (double& d : diffs) d = std::abs(d - median);
  std::nth_element(diffs.begin(), mid, diffs.end());
  return 1.4826 * *mid / std::sqrt(2.0);
}

}  // namespace

FloorHistory::FloorHistory(double resolution_s, double history_s, double rate_bytes_per_hour)
    : resolution_s_(resolution_s),
      rate_per_s_(rate_bytes_per_hour / 3600),
      ring_(static_cast<size_t>(std::ceil(history_s / resolution_s)) + 1) {
  noise_scratch_.reserve(ring_.size());
}

void FloorHistory::clear() {
  head_ = size_ = 0;
  has_open_ = started_ = false;
}

bool FloorHistory::add(double t_s, double bytes) {
  if (!std::isfinite(t_s) || !std::isfinite(bytes) || (started_ && t_s <= last_t_)) return false;
  if (!started_) first_t_ = t_s;
  started_ = true;
  last_t_ = t_s;
  const auto index = static_cast<int64_t>(std::floor(t_s / resolution_s_));
  const bool closed = has_open_ && index != open_.index;
  if (closed) close_bucket();
  if (!has_open_) {
    open_ = Bucket{index, bytes, t_s, -1, -1};
    has_open_ = true;
  } else if (bytes < open_.min) {
    open_.min = bytes;
    open_.t_min = t_s;
  }
  return closed;
}

void FloorHistory::close_bucket() {
  // Every kept bucket whose excursion is still open learns whether this one ends it.
  const double noise = kReturnNoiseWidths * bucket_noise();
  for (size_t k = 0; k < size_; ++k) {
    Bucket& b = at(k);
    if (b.return_s >= 0) continue;
    if (b.back_s < 0 && open_.min <= b.min) b.back_s = open_.t_min - b.t_min;
    // Timed at the first crossing, not at the confirming drop: a level just above the floor
    // would otherwise look like an excursion of several cycles.
    if (b.back_s >= 0 && open_.min < b.min - std::max(noise, rate_per_s_ * b.back_s)) {
      b.return_s = b.back_s;
    }
  }
  if (size_ < ring_.size()) {
    at(size_++) = open_;
  } else {
    ring_[head_] = open_;
    head_ = (head_ + 1) % ring_.size();
  }
  has_open_ = false;
}

double FloorHistory::bucket_noise() const {
  noise_scratch_.clear();
  // Successive kept buckets, also across a missing one: a sampling interval longer than the
  // resolution leaves every other bucket empty.
  for (size_t k = 1; k < size_; ++k) noise_scratch_.push_back(at(k).min - at(k - 1).min);
  return robust_spread(noise_scratch_);
}

int64_t FloorHistory::end() const {
  return size_ ? at(size_ - 1).index + 1 : 0;
}

int64_t FloorHistory::available() const {
  if (!size_) return 0;
  const auto first = static_cast<int64_t>(std::floor(first_t_ / resolution_s_));
  return end() - std::max(at(0).index, first);
}

double FloorHistory::longest_excursion_s() const {
  double longest = 0;
  for (size_t k = 0; k < size_; ++k) longest = std::max(longest, at(k).return_s);
  return longest;
}

double FloorHistory::floor_noise(int64_t width, std::vector<double>& scratch) const {
  scratch.clear();
  const int64_t last = end() - 1;
  int64_t window = -1;
  double lowest = kNone, newer = kNone;
  const auto finish = [&] {
    if (newer != kNone) scratch.push_back(newer - lowest);
    newer = lowest;
  };
  for (size_t k = size_; k-- > 0;) {
    const int64_t w = (last - at(k).index) / width;  // 0 is the newest window
    if (w != window) {
      if (window >= 0) finish();
      if (window >= 0 && w != window + 1) newer = kNone;  // a gap: no difference across it
      window = w;
      lowest = kNone;
    }
    lowest = std::min(lowest, at(k).min);
  }
  if (window >= 0) finish();
  if (scratch.size() < 8) return std::numeric_limits<double>::infinity();
  return robust_spread(scratch);
}

void FloorHistory::floors(int64_t end, int64_t width, int64_t count,
                          std::vector<TrendPoint>& out) const {
  const int64_t start = end - width * count;
  out.assign(static_cast<size_t>(count), TrendPoint{0, kNone});
  // Newest first, so that only the span's own buckets are visited.
  for (size_t k = size_; k-- > 0 && at(k).index >= start;) {
    const Bucket& b = at(k);
    if (b.index >= end) continue;
    TrendPoint& p = out[static_cast<size_t>((b.index - start) / width)];
    if (b.min < p.y) p = TrendPoint{(b.t_min - first_t_) / 3600, b.min};
  }
  std::erase_if(out, [](const TrendPoint& p) { return p.y == kNone; });
}

int64_t FloorHistory::bucket_at_age(double age_s) const {
  return static_cast<int64_t>(std::floor((first_t_ + age_s) / resolution_s_));
}

int64_t FloorHistory::oldest() const {
  return size_ ? at(0).index : 0;
}

FloorHistory::FloorRange FloorHistory::floor_range(int64_t from, int64_t to, int64_t width) const {
  FloorRange range{kNone, -std::numeric_limits<double>::infinity(), true};
  double lowest = kNone;
  int64_t window = -1;
  const auto finish = [&] {
    range.lowest = std::min(range.lowest, lowest);
    range.highest = std::max(range.highest, lowest);
    range.empty = false;
  };
  for (size_t k = size_; k-- > 0;) {
    if (at(k).index >= to) continue;
    if (at(k).index < from) break;
    const int64_t w = (to - 1 - at(k).index) / width;
    if (w != window) {
      if (window >= 0) finish();
      window = w;
      lowest = kNone;
    }
    lowest = std::min(lowest, at(k).min);
  }
  if (window >= 0) finish();
  if (range.empty) return FloorRange{};
  return range;
}

double FloorHistory::deepest_gradual_fall(int64_t width) const {
  const int64_t last = end() - 1;
  double highest = -std::numeric_limits<double>::infinity(), lowest = kNone, previous = kNone;
  double biggest_step = 0, deepest = 0;  // within the fall from `highest`
  int64_t window = -1;
  const auto finish = [&] {
    if (lowest >= highest) {  // a new high starts a new fall
      highest = lowest;
      biggest_step = 0;
    } else {
      if (previous != kNone) biggest_step = std::max(biggest_step, previous - lowest);
      const double fall = highest - lowest;
      if (biggest_step <= fall / 2) deepest = std::max(deepest, fall);
    }
    previous = lowest;
  };
  for (size_t k = 0; k < size_; ++k) {  // oldest first
    const int64_t w = (last - at(k).index) / width;
    if (w != window) {
      if (window >= 0) finish();
      window = w;
      lowest = kNone;
    }
    lowest = std::min(lowest, at(k).min);
  }
  if (window >= 0) finish();
  return deepest;
}

}  // namespace memvisor

namespace memvisor {

// Field order is the format: change it only with LeakDetector's kStateVersion.
void FloorHistory::save(StateWriter& out) const {
  out.f64(resolution_s_);
  out.u64(ring_.size());
  out.u64(size_);
  auto bucket = [&](const Bucket& b) {
    out.i64(b.index);
    out.f64(b.min);
    out.f64(b.t_min);
    out.f64(b.back_s);
    out.f64(b.return_s);
  };
  for (size_t k = 0; k < size_; ++k) bucket(at(k));
  out.boolean(has_open_);
  if (has_open_) bucket(open_);
  out.boolean(started_);
  out.f64(first_t_);
  out.f64(last_t_);
}

bool FloorHistory::restore(StateReader& in) {
  clear();
  const double resolution = in.f64();
  const uint64_t capacity = in.u64();
  const uint64_t size = in.u64();
  if (!in.ok() || resolution != resolution_s_ || capacity != ring_.size() || size > capacity) {
    in.fail();
    return false;
  }
  auto bucket = [&](Bucket& b) {
    b.index = in.i64();
    b.min = in.f64();
    b.t_min = in.f64();
    b.back_s = in.f64();
    b.return_s = in.f64();
  };
  for (size_t k = 0; k < size; ++k) bucket(ring_[k]);
  head_ = 0;
  size_ = static_cast<size_t>(size);
  has_open_ = in.boolean();
  if (has_open_) bucket(open_);
  started_ = in.boolean();
  first_t_ = in.f64();
  last_t_ = in.f64();
  if (!in.ok()) {
    clear();
    return false;
  }
  return true;
}

}  // namespace memvisor
