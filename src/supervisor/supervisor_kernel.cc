// Kernel-speed limits in the supervisor: a cgroup threshold notification (KernelWatch) samples
// that instance at once and runs its rules, the same path as the timer's sample; while the
// instance's metric stays above an armed threshold it is re-measured every 5 ms, so a `limit`
// with `for = K` counts its K samples at kernel speed instead of K intervals; while only the
// cgroup's usage is past it, the kernel is asked to wake us again where the metric could be.
#include <algorithm>
#include <chrono>

#include "supervisor/supervisor.h"

namespace memvisor {
namespace {

double kernel_steady_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

Status Supervisor::start_kernel_watch() {
  auto timer = TimerFd::create();
  if (!timer) return timer.error();
  kernel_timer_.emplace(std::move(*timer));
  if (Status s = loop_->add(kernel_timer_->fd(), EPOLLIN, [this](uint32_t) { on_kernel_timer(); });
      !s) {
    return s;
  }
  kernel_ = std::make_unique<KernelWatch>(
      *loop_, [this](const MemoryWatch::Key& key) { on_kernel_threshold(key); });
  return {};
}

void Supervisor::on_kernel_threshold(const MemoryWatch::Key& key) {
  if (!fleet_.has_snapshot()) return;
  sample_armed(key, 0);
}

void Supervisor::on_kernel_timer() {
  kernel_timer_->acknowledge();
  const double now = kernel_steady_now();
  std::vector<std::pair<MemoryWatch::Key, int>> due;
  for (const auto& [key, follow_up] : follow_ups_) {
    if (follow_up.due_s <= now) due.emplace_back(key, follow_up.count);
  }
  for (const auto& [key, count] : due) sample_armed(key, count);
  arm_kernel_timer(now);
}

void Supervisor::sample_armed(const MemoryWatch::Key& key, int follow_ups) {
  const double now = kernel_steady_now();
  follow_ups_.erase(key);
  bool acted = false;
  for (const RuleAction& action :
       memory_.sample_one(key, now, std::chrono::system_clock::now(), fleet_)) {
    acted = acted || action.decision.action == "recycle" || action.decision.action == "critical";
    act(action);
  }
  state_changed_ = true;
  // Still above: the kernel will not say so again (it notifies crossings), so look again soon.
  const ServiceConfig* service = fleet_.service(std::get<0>(key));
  bool running = false;
  for (const FleetProcess& process : fleet_.processes(std::get<0>(key))) {
    running = running || (process.instance == std::get<1>(key) &&
                          process.generation == std::get<2>(key) && process.measured());
  }
  const auto* series = memory_.series(key);
  if (!acted && running && service != nullptr && series != nullptr && !series->empty()) {
    const KernelArming arming = kernel_thresholds(*service);
    const MemoryValues& values = series->back().values;
    if (above_armed(arming, values)) {
      if (follow_ups < kMaxFollowUps) follow_ups_[key] = {now + kFollowUp, follow_ups + 1};
    } else if (const auto next = next_usage_threshold(arming, values); next && kernel_) {
      // The cgroup crossed before the rule's metric did: be woken where the metric could
      // first get there, rather than on the interval.
      kernel_->arm_usage(key, *next);
    }
  }
  arm_kernel_timer(now);
}

void Supervisor::arm_kernel_timer(double now_s) {
  std::optional<double> next;
  for (const auto& [key, follow_up] : follow_ups_) {
    if (!next || follow_up.due_s < *next) next = follow_up.due_s;
  }
  if (!next) {
    (void)kernel_timer_->arm(std::nullopt);
    return;
  }
  const auto delay = std::chrono::duration<double>(std::max(0.0, *next - now_s));
  (void)kernel_timer_->arm(std::chrono::steady_clock::now() +
                           std::chrono::duration_cast<std::chrono::steady_clock::duration>(delay));
}

}  // namespace memvisor
