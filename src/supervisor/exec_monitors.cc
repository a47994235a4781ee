#include "supervisor/exec_monitors.h"

#include <fmt/format.h>

#include <charconv>
#include <chrono>
#include <cmath>
#include <limits>

#include "core/units.h"
#include "os/spawn.h"

namespace memvisor {
namespace {

double monitor_steady_now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string_view first_line(std::string_view text) {
  const size_t end = text.find('\n');
  return end == std::string_view::npos ? text : text.substr(0, end);
}

std::string_view trimmed(std::string_view text) {
  constexpr std::string_view kSpace = " \t\r\f\v";
  const size_t begin = text.find_first_not_of(kSpace);
  if (begin == std::string_view::npos) return {};
  return text.substr(begin, text.find_last_not_of(kSpace) - begin + 1);
}

// A line quoted in an event: at most 200 bytes, so a binary blob cannot bloat the log.
std::string quoted_line(std::string_view text) {
  std::string line(trimmed(first_line(text)).substr(0, 200));
  for (char& c : line) {
    if (static_cast<unsigned char>(c) < 0x20) c = ' ';
  }
  return line;
}

}  // namespace

std::optional<double> parse_monitor_value(std::string_view output) {
  const std::string_view text = trimmed(first_line(output));
  if (text.empty()) return std::nullopt;
  std::string_view number = text.front() == '+' ? text.substr(1) : text;
  double value = 0;
  const auto [end, error] = std::from_chars(number.data(), number.data() + number.size(), value);
  if (error == std::errc() && end == number.data() + number.size()) {
    if (!std::isfinite(value)) return std::nullopt;
    return value;
  }
  // A size with its unit, as in the config: "12MiB" is 12582912 (bytes).
  if (auto bytes = parse_size(text); bytes.ok()) return static_cast<double>(*bytes);
  return std::nullopt;
}

ExecMonitors::ExecMonitors(EventLoop& loop, const FleetState& fleet, OnValue on_value,
                           OnEvent on_event, Options options)
    : loop_(loop),
      fleet_(fleet),
      on_value_(std::move(on_value)),
      on_event_(std::move(on_event)),
      options_(std::move(options)) {
  if (auto timer = TimerFd::create(); timer) {
    timer_.emplace(std::move(*timer));
    if (!loop_.add(timer_->fd(), EPOLLIN, [this](uint32_t) {
          timer_->acknowledge();
          update(monitor_steady_now());
        })) {
      timer_.reset();
    }
  }
}

ExecMonitors::~ExecMonitors() {
  if (timer_) loop_.remove(timer_->fd());
  schedules_.clear();  // runs going on are killed and reaped
}

void ExecMonitors::update(double now_s) {
  if (updating_) return;
  updating_ = true;
  // Which (process, monitor) pairs should exist now: running processes of services with
  // monitors. A process that stops running, or a monitor removed or changed by a reload, loses
  // its schedule; a run still going is killed and reaped with it.
  std::map<RunKey, std::pair<const ServiceConfig*, const FleetProcess*>> wanted;
  if (fleet_.has_snapshot()) {
    for (const ServiceConfig& service : fleet_.config().services) {
      if (service.monitors.empty()) continue;
      for (const FleetProcess& process : fleet_.processes(service.name)) {
        if (process.pid == 0 || process.state != "running") continue;
        for (const MonitorConfig& monitor : service.monitors) {
          wanted[{service.name, process.instance, process.generation, monitor.name}] = {&service,
                                                                                        &process};
        }
      }
    }
  }
  for (auto it = schedules_.begin(); it != schedules_.end();) {
    auto found = wanted.find(it->first);
    bool keep = found != wanted.end() && found->second.second->pid == it->second.pid;
    if (keep) {
      const MonitorConfig* now_config = nullptr;
      for (const MonitorConfig& m : found->second.first->monitors) {
        if (m.name == it->first.monitor) now_config = &m;
      }
      keep = now_config != nullptr && now_config->command == it->second.config.command &&
             now_config->interval == it->second.config.interval &&
             now_config->timeout == it->second.config.timeout;
    }
    it = keep ? std::next(it) : schedules_.erase(it);
  }
  for (const auto& [key, where] : wanted) {
    const auto& [service, process] = where;
    auto [it, added] = schedules_.try_emplace(key);
    Schedule& schedule = it->second;
    if (added) {
      for (const MonitorConfig& m : service->monitors) {
        if (m.name == key.monitor) schedule.config = m;
      }
      schedule.pid = process->pid;
      schedule.next_due_s = now_s;  // the first run at once
    }
    if (schedule.finished) {
      schedule.run.reset();
      schedule.finished = false;
    }
    if (now_s < schedule.next_due_s) continue;
    const double interval_s = std::chrono::duration<double>(schedule.config.interval).count();
    // On the interval's grid; after a stall, from now rather than a burst of catch-up runs.
    schedule.next_due_s += interval_s;
    if (schedule.next_due_s <= now_s) schedule.next_due_s = now_s + interval_s;
    if (schedule.run) {
      ++counters_[{key.service, key.monitor}].skipped;
      continue;
    }
    start_run(key, schedule, *service, *process, now_s);
  }
  updating_ = false;
  arm_timer();
}

void ExecMonitors::start_run(const RunKey& key, Schedule& schedule, const ServiceConfig& service,
                             const FleetProcess& process, double now_s) {
  ChildCommand command;
  command.argv = schedule.config.command;
  command.separate_stderr = true;
  command.cwd = service.cwd;
  command.env = current_environment();
  for (const auto& [name, value] : service.env) command.env.push_back(name + "=" + value);
  command.env.push_back(fmt::format("MEMVISOR_PID={}", process.pid));
  command.env.push_back("MEMVISOR_SERVICE=" + service.name);
  command.env.push_back(fmt::format("MEMVISOR_INSTANCE={}", process.instance));
  command.env.push_back(fmt::format("MEMVISOR_GENERATION={}", process.generation));
  command.env.push_back("MEMVISOR_MONITOR=" + key.monitor);
  if (!process.cgroup.empty() && !options_.cgroup_root.empty()) {
    command.env.push_back("MEMVISOR_CGROUP=" + options_.cgroup_root + process.cgroup);
  }
  if (!service.user.empty()) {
    // The service's own user, never memvisor's (root): the monitor is the service's code.
    auto user = lookup_user(service.user);
    if (!user) {
      return fail(key, schedule, "exec",
                  fmt::format("cannot run as user '{}': {}", service.user, user.error().describe()),
                  "", now_s);
    }
    command.user = std::move(*user);
  }
  schedule.run = std::make_unique<ChildCapture>(
      loop_, std::move(command), schedule.config.timeout,
      [this, key](ChildOutcome outcome) { on_done(key, std::move(outcome)); }, options_.max_output);
}

void ExecMonitors::on_done(const RunKey& key, ChildOutcome outcome) {
  auto it = schedules_.find(key);
  if (it == schedules_.end()) return;
  Schedule& schedule = it->second;
  schedule.finished = true;  // the capture is dropped outside its own callback
  const double now_s = monitor_steady_now();
  if (!outcome.started) {
    return fail(key, schedule, "exec", "cannot run: " + outcome.note, outcome.errors, now_s);
  }
  if (outcome.timed_out) {
    return fail(key, schedule, "timeout",
                fmt::format("did not finish within {} and was killed (SIGKILL to its process "
                            "group)",
                            format_duration(schedule.config.timeout)),
                outcome.errors, now_s);
  }
  if (!outcome.succeeded) return fail(key, schedule, "exit", outcome.note, outcome.errors, now_s);
  auto value = parse_monitor_value(outcome.output);
  if (!value) {
    return fail(key, schedule, "not_a_number",
                fmt::format("expected a number on the first line of its output, got '{}'",
                            quoted_line(outcome.output)),
                outcome.errors, now_s);
  }
  ++counters_[{key.service, key.monitor}].runs;
  schedule.last.value = *value;
  schedule.last.value_at_s = now_s;
  schedule.last.error.clear();
  // Failing again starts with a short window; not none, so a flapping monitor stays bounded.
  FailureLog& log = failure_logs_[{key.service, key.monitor}];
  log.window_s = std::min(log.window_s, options_.first_window_s);
  on_value_(Key{key.service, key.instance, key.generation}, key.monitor, *value, now_s);
}

void ExecMonitors::fail(const RunKey& key, Schedule& schedule, std::string reason,
                        std::string message, const std::string& errors, double now_s) {
  Counters& counters = counters_[{key.service, key.monitor}];
  ++counters.runs;
  ++counters.failures[reason];
  schedule.last.error = message;
  FailureLog& log = failure_logs_[{key.service, key.monitor}];
  if (now_s - log.last_event_s < log.window_s) {
    ++log.suppressed;
    return;
  }
  // The message names the monitor and quotes its stderr: the human line in memvisor's log
  // ("web.1: exited with code 2 (pid …)") read as the worker's own exit otherwise.
  const std::string stderr_line = quoted_line(errors);
  nlohmann::json event = {
      {"event", "monitor_failed"},
      {"service", key.service},
      {"instance", key.instance},
      {"generation", key.generation},
      {"pid", schedule.pid},
      {"monitor", key.monitor},
      {"reason", reason},
      {"message", fmt::format("monitor {}: {}{}", key.monitor, message,
                              stderr_line.empty() ? "" : " (stderr: " + stderr_line + ")")},
      {"stderr", stderr_line}};
  if (log.suppressed > 0) {
    // A summary: the failures of this monitor (any instance) not logged one by one.
    event["suppressed"] = log.suppressed;
    event["since_s"] = std::round(now_s - log.last_event_s);
  }
  log.last_event_s = now_s;
  log.suppressed = 0;
  log.window_s = log.window_s == 0 ? options_.first_window_s
                                   : std::min(log.window_s * 2, options_.max_window_s);
  on_event_(std::move(event));
}

void ExecMonitors::arm_timer() {
  if (!timer_) return;
  double next = std::numeric_limits<double>::infinity();
  for (const auto& [key, schedule] : schedules_) next = std::min(next, schedule.next_due_s);
  if (!std::isfinite(next)) {
    (void)timer_->arm(std::nullopt);
    return;
  }
  const auto delay = std::chrono::duration<double>(std::max(0.0, next - monitor_steady_now()));
  (void)timer_->arm(std::chrono::steady_clock::now() +
                    std::chrono::duration_cast<std::chrono::steady_clock::duration>(delay));
}

std::map<std::string, ExecMonitors::Last> ExecMonitors::last(const Key& key) const {
  std::map<std::string, Last> found;
  const auto& [service, instance, generation] = key;
  for (auto it = schedules_.lower_bound(RunKey{service, instance, generation, ""});
       it != schedules_.end() && it->first.service == service && it->first.instance == instance &&
       it->first.generation == generation;
       ++it) {
    found[it->first.monitor] = it->second.last;
  }
  return found;
}

size_t ExecMonitors::running() const {
  size_t count = 0;
  for (const auto& [key, schedule] : schedules_) count += schedule.run && !schedule.finished;
  return count;
}

}  // namespace memvisor
