#include "core/lifecycle/circuit_breaker.h"

namespace memvisor {

std::string_view to_string(CircuitState state) {
  switch (state) {
    case CircuitState::closed:
      return "closed";
    case CircuitState::open:
      return "open";
    case CircuitState::half_open:
      return "half-open";
  }
  return "?";
}

bool CircuitBreaker::record_failure(TimePoint now) {
  ++failures_;
  // A failed half-open try re-opens at once; otherwise the streak must reach the threshold.
  if (state_ == CircuitState::half_open ||
      (state_ == CircuitState::closed && failures_ >= threshold_)) {
    state_ = CircuitState::open;
    opened_at_ = now;
    return true;
  }
  return false;
}

bool CircuitBreaker::record_success() {
  const bool closed_now = state_ != CircuitState::closed;
  state_ = CircuitState::closed;
  failures_ = 0;
  return closed_now;
}

bool CircuitBreaker::allow_start(TimePoint now) {
  if (state_ != CircuitState::open) return true;
  if (now < opened_at_ + cooldown_) return false;
  state_ = CircuitState::half_open;
  return true;
}

void CircuitBreaker::try_now() {
  if (state_ == CircuitState::open) state_ = CircuitState::half_open;
}

std::optional<CircuitBreaker::TimePoint> CircuitBreaker::retry_at() const {
  if (state_ != CircuitState::open) return std::nullopt;
  return opened_at_ + cooldown_;
}

}  // namespace memvisor
