// Crash-loop circuit breaker: closed → open after K consecutive failed starts, half-open after a
// cool-down (one try), closed again when that try succeeds.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace memvisor {

enum class CircuitState { closed, open, half_open };
std::string_view to_string(CircuitState state);

class CircuitBreaker {
 public:
  using TimePoint = std::chrono::steady_clock::time_point;

  CircuitBreaker(int failure_threshold, std::chrono::milliseconds cooldown)
      : threshold_(failure_threshold), cooldown_(cooldown) {}

  // A run failed (exited too soon, never became ready, or could not be started).
  // Returns true when this failure opened the circuit.
  bool record_failure(TimePoint now);
  // A run proved stable. Returns true when this closed a half-open circuit.
  bool record_success();

  // Whether a start may happen now. An open circuit whose cool-down has passed turns half-open
  // and allows exactly one start.
  bool allow_start(TimePoint now);
  // An operator asked for a start (`memvisor restart|start`, the cause fixed): an open circuit
  // turns half-open at once, so that one try happens now and its outcome closes or reopens it.
  void try_now();

  CircuitState state() const { return state_; }
  int consecutive_failures() const { return failures_; }
  // A reload changed the settings: they count from the failures already seen.
  void set_limits(int failure_threshold, std::chrono::milliseconds cooldown) {
    threshold_ = failure_threshold;
    cooldown_ = cooldown;
  }
  // When an open circuit allows its half-open try.
  std::optional<TimePoint> retry_at() const;

 private:
  int threshold_;
  std::chrono::milliseconds cooldown_;
  CircuitState state_ = CircuitState::closed;
  int failures_ = 0;
  TimePoint opened_at_{};
};

}  // namespace memvisor
