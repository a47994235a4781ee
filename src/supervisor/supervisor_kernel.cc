// Kernel-speed limits in the supervisor: a cgroup threshold notification (KernelWatch) samples
// that instance at once and runs its rules, the same path as the timer's sample; while the
// instance's metric stays above an armed threshold it is re-measured every 5 ms, so a `limit`
// with `for = K` counts its K samples at kernel speed instead of K intervals. After every sample
// the kernel is asked to wake us where the metric could first reach a threshold, a little early
// for the kernel's granularity (usage_target()), and while the metric is that close and growing
// it is re-measured every 5 ms too.
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

void Supervisor::look_soon_at(const MemoryWatch::Key& key) {
  const double now = kernel_steady_now();
  first_looks_[key] = {now + kFirstLook, kFirstLooks};
  arm_kernel_timer(now);
}

void Supervisor::on_kernel_timer() {
  kernel_timer_->acknowledge();
  const double now = kernel_steady_now();
  std::vector<std::pair<MemoryWatch::Key, int>> due;
  for (const auto& [key, follow_up] : follow_ups_) {
    if (follow_up.due_s <= now) due.emplace_back(key, follow_up.count);
  }
  for (auto it = first_looks_.begin(); it != first_looks_.end();) {
    if (it->second.due_s > now) {
      ++it;
      continue;
    }
    // Not while its follow-ups look already.
    if (!follow_ups_.contains(it->first)) due.emplace_back(it->first, 0);
    if (--it->second.left > 0) {
      it->second.due_s = now + kFirstLook;
      ++it;
    } else {
      it = first_looks_.erase(it);
    }
  }
  for (const auto& [key, count] : due) {
    if (fleet_.has_snapshot()) sample_armed(key, count);
  }
  arm_kernel_timer(now);
}

namespace {

// One number that grows when any armed threshold's metric grows: whether follow-ups near a
// threshold still see the worker allocating.
uint64_t armed_metrics(const KernelArming& arming, const MemoryValues& values) {
  uint64_t sum = 0;
  for (const KernelThreshold& threshold : arming.thresholds)
    sum += value_of(threshold.metric, values);
  return sum;
}

}  // namespace

void Supervisor::sample_armed(const MemoryWatch::Key& key, int follow_ups) {
  const double now = kernel_steady_now();
  std::optional<uint64_t> before;
  if (auto found = follow_ups_.find(key); found != follow_ups_.end()) {
    before = found->second.metrics;
    follow_ups_.erase(found);
  }
  bool acted = false;
  for (const RuleAction& action :
       memory_.sample_one(key, now, std::chrono::system_clock::now(), fleet_)) {
    acted = acted || action.decision.action == "recycle" || action.decision.action == "critical";
    act(action);
  }
  state_changed_ = true;
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
    const UsageTarget target = usage_target(arming, values);
    const uint64_t metrics = armed_metrics(arming, values);
    // Look again soon while above a threshold (the kernel notifies crossings only, and `for = K`
    // counts samples), and while just below one and still growing (the kernel checks usage in
    // steps that may hide the crossing).
    const bool growing = !before || metrics > *before;
    if ((above_armed(arming, values) || (target.near && growing)) && follow_ups < kMaxFollowUps) {
      follow_ups_[key] = {now + kFollowUp, follow_ups + 1, metrics};
    } else if (target.wake_at && kernel_) {
      kernel_->arm_usage(key, *target.wake_at);
    }
  }
  arm_kernel_timer(now);
}

void Supervisor::retarget_kernel_thresholds() {
  if (!kernel_) return;
  for (const MemoryWatch::Key& key : kernel_->armed_keys()) {
    if (follow_ups_.contains(key)) continue;  // being sampled every 5 ms already
    const ServiceConfig* service = fleet_.service(std::get<0>(key));
    const auto* series = memory_.series(key);
    if (service == nullptr || series == nullptr || series->empty()) continue;
    const UsageTarget target = usage_target(kernel_thresholds(*service), series->back().values);
    if (target.wake_at) kernel_->arm_usage(key, *target.wake_at);
  }
}

void Supervisor::arm_kernel_timer(double now_s) {
  std::optional<double> next;
  for (const auto& [key, follow_up] : follow_ups_) {
    if (!next || follow_up.due_s < *next) next = follow_up.due_s;
  }
  for (const auto& [key, look] : first_looks_) {
    if (!next || look.due_s < *next) next = look.due_s;
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
