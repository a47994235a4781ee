// The memory-pressure rule's pure parts: triggers, the polled threshold and the pick.
#include "core/rules/pressure_pick.h"

#include <fmt/format.h>

#include <chrono>

namespace memvisor {

std::vector<std::string> psi_triggers(const PressureRule& rule, Millis window) {
  const auto window_us = std::chrono::duration_cast<std::chrono::microseconds>(window).count();
  std::vector<std::string> lines;
  auto add = [&](const char* kind, const std::optional<double>& percent) {
    if (!percent) return;
    const auto stall_us = static_cast<long long>(static_cast<double>(window_us) * *percent / 100);
    lines.push_back(fmt::format("{} {} {}", kind, stall_us, window_us));
  };
  add("some", rule.some_percent);
  add("full", rule.full_percent);
  return lines;
}

bool psi_over(const PressureRule& rule, const Psi& psi) {
  if (rule.some_percent && psi.some.avg10 >= *rule.some_percent) return true;
  return rule.full_percent && psi.has_full && psi.full.avg10 >= *rule.full_percent;
}

double recent_growth(const std::deque<TimedSample>& series, double span_s) {
  if (series.size() < 2) return 0;
  const TimedSample& last = series.back();
  // The newest sample at least span_s older than the last, or the oldest kept.
  auto first = series.rbegin() + 1;
  while (first + 1 != series.rend() && last.t_s - first->t_s < span_s) ++first;
  const double dt = last.t_s - first->t_s;
  if (dt <= 0) return 0;
  return (static_cast<double>(last.values.uss) - static_cast<double>(first->values.uss)) / dt;
}

std::optional<size_t> choose_pressure_victim(PressurePick pick,
                                             std::span<const PressureCandidate> candidates) {
  std::optional<size_t> best;
  auto better = [&](const PressureCandidate& a, const PressureCandidate& b) {
    if (pick == PressurePick::fastest && a.growth_bytes_per_s != b.growth_bytes_per_s) {
      return a.growth_bytes_per_s > b.growth_bytes_per_s;
    }
    return a.uss > b.uss;
  };
  for (size_t i = 0; i < candidates.size(); ++i) {
    if (!best || better(candidates[i], candidates[*best])) best = i;
  }
  return best;
}

}  // namespace memvisor
