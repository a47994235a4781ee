// The leak detector's bounded memory of one worker: the lowest sample of each fixed-width time
// bucket over the last hours, and how long the memory's excursions above its floor last.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "core/leak/leak_detector_stats.h"

namespace memvisor {

class StateReader;
class StateWriter;

class FloorHistory {
 public:
  // `rate_bytes_per_hour` is the leak threshold: a dip smaller than what a leak at that rate adds
  // meanwhile does not end an excursion.
  FloorHistory(double resolution_s, double history_s, double rate_bytes_per_hour);

  // One sample; true when it completed a bucket (older or equal times are ignored).
  bool add(double t_s, double bytes);
  void clear();
  // A reload changed the rule's rate: applies to the dips judged from now on.
  void set_rate(double rate_bytes_per_hour) { rate_per_s_ = rate_bytes_per_hour / 3600; }

  double resolution_s() const { return resolution_s_; }
  double age_s() const { return started_ ? last_t_ - first_t_ : 0; }
  // Bucket indices: complete buckets are in [end() - available(), end()).
  int64_t end() const;
  int64_t available() const;

  // The longest excursion seen: from a bucket's floor, up, and back down to it, confirmed by the
  // signal going clearly below it (by more than noise and more than a threshold leak adds). The
  // floor is only seen in windows at least this long. 0 while none has completed.
  double longest_excursion_s() const;
  // Robust spread of successive minima of windows of `width` buckets over the whole history.
  double floor_noise(int64_t width, std::vector<double>& scratch) const;
  // Minima of `count` windows of `width` buckets ending before bucket `end`, oldest first, each at
  // the time of its lowest sample (hours since the first sample). Empty windows are left out.
  void floors(int64_t end, int64_t width, int64_t count, std::vector<TrendPoint>& out) const;
  // The lowest and highest of the minima of windows of `width` buckets that end at or before
  // bucket `start` (both 0 when there is none).
  struct FloorRange {
    double lowest = 0, highest = 0;
    bool empty = true;
  };
  FloorRange floor_range_before(int64_t start, int64_t width) const {
    return floor_range(std::numeric_limits<int64_t>::min(), start, width);
  }
  // The same over the buckets in [from, to) only, windows aligned to end at `to`.
  FloorRange floor_range(int64_t from, int64_t to, int64_t width) const;
  // The bucket index of the first sample, and of `age_s` seconds after it.
  int64_t bucket_at_age(double age_s) const;
  // The oldest bucket index still kept (0 when none).
  int64_t oldest() const;
  // The deepest gradual fall of the minima of windows of `width` buckets over the whole history:
  // the largest drop from a window's floor to a later one's, made in steps of which none is more
  // than half of it (a load going down, not one release). 0 when there is none.
  double deepest_gradual_fall(int64_t width) const;

  size_t state_bytes() const { return ring_.capacity() * sizeof(Bucket); }

  // A supervisor checkpoint (state_codec.h): the kept buckets, the open one and the times; the
  // rate is the rule's and is not saved.
  void save(StateWriter& out) const;
  // False, the history left cleared, when `in` is not a history of this resolution and length.
  bool restore(StateReader& in);

 private:
  struct Bucket {
    int64_t index = 0;     // floor(t / resolution)
    double min = 0;        // lowest sample
    double t_min = 0;      // when it was seen
    double back_s = -1;    // how long until the signal was first back at `min` (-1: not yet)
    double return_s = -1;  // the excursion's length once confirmed (-1: not yet)
  };

  const Bucket& at(size_t k) const { return ring_[(head_ + k) % ring_.size()]; }
  Bucket& at(size_t k) { return ring_[(head_ + k) % ring_.size()]; }
  void close_bucket();
  double bucket_noise() const;

  double resolution_s_, rate_per_s_;
  std::vector<Bucket> ring_;  // the last ring_.size() complete buckets, oldest at head_
  size_t head_ = 0, size_ = 0;
  Bucket open_;
  bool has_open_ = false, started_ = false;
  double first_t_ = 0, last_t_ = 0;
  mutable std::vector<double> noise_scratch_;
};

}  // namespace memvisor
