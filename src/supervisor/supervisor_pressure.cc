// The memory-pressure rule ([supervisor] pressure): a PSI trigger wakes the loop when tasks stall
// on memory for the configured share of the window; memvisor then recycles one instance (the
// largest or fastest-growing private memory) and waits a window before it picks another.
#include <fmt/format.h>

#include <chrono>

#include "core/config/config_pressure.h"
#include "core/rules/pressure_pick.h"
#include "core/units.h"
#include "os/files.h"
#include "os/log_sink.h"
#include "os/psi_trigger.h"
#include "supervisor/supervisor.h"

namespace memvisor {
namespace {

double pressure_clock_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// An unprivileged writer's trigger window must be a multiple of 2 s (Linux 6.5+): the kernel's
// EINVAL is retried once with the window rounded up to one.
Millis unprivileged_window(Millis window) {
  const Millis rounded{(window.count() + 1999) / 2000 * 2000};
  return std::min(rounded, Millis(10000));
}

std::string describe_share(const PressureRule& rule) {
  std::string text;
  if (rule.some_percent) text = fmt::format("some {}%", *rule.some_percent);
  if (rule.full_percent) {
    text += fmt::format("{}full {}%", text.empty() ? "" : ", ", *rule.full_percent);
  }
  return fmt::format("{} of {}ms", text, rule.window.count());
}

}  // namespace

void Supervisor::stop_pressure() {
  if (!pressure_) return;
  for (const UniqueFd& fd : pressure_->armed) loop_->remove(fd.get());
  pressure_.reset();
}

void Supervisor::configure_pressure() {
  const std::optional<PressureRule>& rule = fleet_.config().supervisor.pressure;
  if (pressure_ && rule && pressure_to_json(pressure_->rule) == pressure_to_json(rule)) return;
  stop_pressure();
  if (!rule) return;
  PressureWatch& watch = pressure_.emplace();
  watch.rule = *rule;
  auto path = psi_file_of(rule->source);
  if (!path) {
    log_message(
        LogLevel::warning,
        fmt::format("memory pressure: {}; watching the host's /proc/pressure/memory instead",
                    path.error().describe()));
    path = psi_file_of("host");
  }
  watch.path = *path;
  // Every trigger of the rule, or the first error (and none armed).
  auto arm_all = [&](Millis window) -> Result<std::vector<UniqueFd>> {
    std::vector<UniqueFd> fds;
    for (const std::string& line : psi_triggers(*rule, window)) {
      auto fd = arm_psi_trigger(watch.path, line);
      if (!fd) return fd.error();
      fds.push_back(std::move(*fd));
    }
    return fds;
  };
  Millis window = rule->window;
  auto armed = arm_all(window);
  if (!armed && armed.error().errnum == EINVAL && unprivileged_window(window) != window) {
    window = unprivileged_window(window);
    armed = arm_all(window);
    if (armed) {
      log_message(LogLevel::notice, fmt::format("memory pressure: the kernel refused a {}ms window "
                                                "without CAP_SYS_RESOURCE; armed with {}ms",
                                                rule->window.count(), window.count()));
    }
  }
  if (!armed) {
    log_message(LogLevel::warning,
                fmt::format("memory pressure: cannot arm a PSI trigger ({}); reading avg10 of {} "
                            "each sampling round instead",
                            armed.error().describe(), watch.path));
    return;
  }
  watch.armed = std::move(*armed);
  std::string armed_lines;
  for (const std::string& line : psi_triggers(*rule, window)) {
    armed_lines += (armed_lines.empty() ? "" : ", ") + line;
  }
  for (const UniqueFd& fd : watch.armed) {
    const int raw = fd.get();
    if (Status s =
            loop_->add(raw, EPOLLPRI, [this](uint32_t events) { on_pressure_trigger(events); });
        !s) {
      log_message(LogLevel::warning, "memory pressure: cannot watch the PSI trigger (" +
                                         s.error().describe() + "); reading avg10 instead");
      for (const UniqueFd& added : watch.armed) loop_->remove(added.get());
      watch.armed.clear();
      return;
    }
  }
  log_message(LogLevel::notice, fmt::format("memory pressure: PSI trigger armed on {} ({}); {}",
                                            watch.path, armed_lines, describe_share(*rule)));
}

void Supervisor::on_pressure_trigger(uint32_t epoll_events) {
  if (!pressure_) return;
  if ((epoll_events & EPOLLERR) != 0) {
    // The file's cgroup went away: triggers can no longer fire there.
    log_message(LogLevel::warning, "memory pressure: the PSI trigger on " + pressure_->path +
                                       " failed; reading avg10 each sampling round instead");
    for (const UniqueFd& fd : pressure_->armed) loop_->remove(fd.get());
    pressure_->armed.clear();
    return;
  }
  ++pressure_->fires;
  auto text = read_file(pressure_->path);
  std::optional<Psi> psi = text ? parse_psi(*text) : std::nullopt;
  pressure_seen(psi.value_or(Psi{}), "trigger");
  state_changed_ = true;
}

void Supervisor::poll_pressure() {
  if (!pressure_ || !pressure_->armed.empty()) return;
  auto text = read_file(pressure_->path);
  if (!text) return;
  auto psi = parse_psi(*text);
  if (!psi) return;
  pressure_->last = *psi;
  if (!psi_over(pressure_->rule, *psi)) return;
  ++pressure_->fires;
  pressure_seen(*psi, "avg10");
}

void Supervisor::pressure_after_exit() {
  if (!pressure_) return;
  // The stall that wakes us right after an OOM kill is the kill's own: picking then would
  // recycle a second worker for memory already given back.
  const double until =
      pressure_clock_s() + std::chrono::duration<double>(pressure_->rule.window).count();
  pressure_->cooldown_until_s = std::max(pressure_->cooldown_until_s, until);
}

void Supervisor::pressure_seen(const Psi& psi, std::string_view how) {
  PressureWatch& watch = *pressure_;
  watch.last = psi;
  const double now = pressure_clock_s();
  if (now < watch.cooldown_until_s) return;
  // One at a time: while any recycle is under way its replacement is still starting (and
  // adding memory), so the next pick waits for it.
  struct Pick {
    const FleetProcess* process;
    PressureCandidate memory;
  };
  std::vector<Pick> picks;
  for (const ServiceConfig& service : fleet_.config().services) {
    for (const FleetProcess& process : fleet_.processes(service.name)) {
      if (process.recycling) return;
      if (!process.primary || !process.measured()) continue;
      const auto* series =
          memory_.series(MemoryWatch::Key{service.name, process.instance, process.generation});
      if (series == nullptr || series->empty()) continue;
      const double span_s = std::chrono::duration<double>(watch.rule.window).count();
      picks.push_back({&process, {series->back().values.uss, recent_growth(*series, span_s)}});
    }
  }
  std::vector<PressureCandidate> candidates;
  for (const Pick& p : picks) candidates.push_back(p.memory);
  const auto chosen = choose_pressure_victim(watch.rule.pick, candidates);
  if (!chosen) return;
  const FleetProcess& victim = *picks[*chosen].process;
  const PressureCandidate& memory = picks[*chosen].memory;
  const bool recycle = watch.rule.action == PressureAction::recycle;
  const std::string pick = watch.rule.pick == PressurePick::largest ? "largest" : "fastest";
  const std::string unit = fmt::format("{}.{}", victim.service, victim.instance);
  nlohmann::json event = {
      {"event", "pressure"},
      {"service", victim.service},
      {"instance", victim.instance},
      {"pid", victim.pid},
      {"generation", victim.generation},
      {"reason", "pressure"},
      {"action", recycle ? "recycle" : "alert"},
      {"pick", pick},
      {"how", how},
      {"source", watch.path},
      {"window_ms", watch.rule.window.count()},
      {"some_avg10", psi.some.avg10},
      {"some_total_us", psi.some.total_us},
      {"uss", memory.uss},
      {"growth_bytes_per_s", memory.growth_bytes_per_s},
      {"message",
       fmt::format(
           "memory pressure (some avg10 {:.2f}%{}, rule {}, {}): {} {}, the {} ({} private)",
           psi.some.avg10,
           psi.has_full ? fmt::format(", full {:.2f}%", psi.full.avg10) : std::string(),
           describe_share(watch.rule), how == "trigger" ? "PSI trigger" : "avg10 polled",
           recycle ? "recycling" : "would recycle", unit,
           pick == "largest" ? "largest" : "fastest growing", format_size(memory.uss))}};
  if (psi.has_full) {
    event["full_avg10"] = psi.full.avg10;
    event["full_total_us"] = psi.full.total_us;
  }
  log_event(std::move(event));
  watch.cooldown_until_s = now + std::chrono::duration<double>(watch.rule.window).count();
  if (!recycle) return;
  ++watch.recycles;
  cut_heap_samples_short(victim.service, victim.instance,
                         "the pressure rule acted during the window");
  request_recycle(victim.service, victim.instance, "pressure", false);
}

}  // namespace memvisor
