// Validation of the config model. Messages name what was expected and what was found, so that
// parse_config only has to put SOURCE:LINE:COLUMN in front.
#include "core/config/config_validate.h"

#include <fmt/format.h>

#include <array>
#include <cmath>
#include <limits>
#include <set>

#include "core/config/config_monitor.h"
#include "core/config/config_names.h"
#include "core/config/config_pressure.h"
#include "core/config/config_validate_listen.h"
#include "core/config/config_validate_memory.h"
#include "core/units.h"

namespace memvisor {
namespace {

bool is_bare_key_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '-';
}

// Whether a duration may be zero, and why:
//
//   field              zero means                                          allowed
//   restart_delay      restart at once                                     yes
//   restart_delay_max  never wait (only together with restart_delay = 0)   yes
//   min_uptime         every run counts as stable: no backoff, no circuit  yes
//   circuit_cooldown   an open circuit closes at once: pointless           no
//   stop_timeout       stop_signal is never given a chance; set            no
//                      stop_signal = "SIGTERM" instead
//   kill_timeout       SIGKILL right after SIGTERM; set stop_signal =      no
//                      "SIGKILL" if that is what you want
//   startup_timeout    no notify-mode service could ever become ready      no
//   watchdog           off                                                 yes
//   prefork_timeout    SIGKILL with prefork_signal: no chance to finish    no
struct DurationRule {
  std::string_view field;
  bool zero_allowed;
};
constexpr std::array<DurationRule, 9> kDurationRules{{
    {"restart_delay", true},
    {"restart_delay_max", true},
    {"min_uptime", true},
    {"circuit_cooldown", false},
    {"stop_timeout", false},
    {"kill_timeout", false},
    {"startup_timeout", false},
    {"watchdog", true},
    {"prefork_timeout", false},
}};

}  // namespace

std::string expected_positive_integer(int64_t value) {
  return fmt::format("expected a positive integer, got {}", value);
}

std::string ConfigProblem::describe() const {
  return field.empty() ? what : fmt::format("{}: {}", field, what);
}

std::string path_key(std::string_view key) {
  bool bare = !key.empty();
  for (char c : key) bare = bare && is_bare_key_char(c);
  if (bare) return std::string(key);
  std::string quoted = "\"";
  for (char c : key) {
    if (c == '"' || c == '\\') quoted += '\\';
    quoted += c;
  }
  return quoted + "\"";
}

std::string service_path(std::string_view name) {
  return "service." + path_key(name);
}

std::optional<std::string> check_service_name(std::string_view name) {
  bool bare = !name.empty() && name.size() <= kMaxServiceNameLength;
  for (char c : name) bare = bare && is_bare_key_char(c);
  if (bare) return std::nullopt;
  return fmt::format(
      "expected a service name of letters, digits, '_' and '-' (at most {} characters), got '{}'",
      kMaxServiceNameLength, name);
}

std::optional<std::string> check_instances(int64_t instances) {
  if (instances < 1) return expected_positive_integer(instances);
  if (instances > kMaxInstances) {
    return fmt::format("expected at most {} instances, got {}", kMaxInstances, instances);
  }
  return std::nullopt;
}

std::optional<std::string> check_incidents_keep(int64_t keep) {
  if (keep < 1) return expected_positive_integer(keep);
  if (keep > 100000) return fmt::format("expected at most 100000 bundles, got {}", keep);
  return std::nullopt;
}

std::optional<std::string> check_log_keep(int64_t keep) {
  if (keep < 1) return expected_positive_integer(keep);
  if (keep > 1000) return fmt::format("expected at most 1000 rotated files, got {}", keep);
  return std::nullopt;
}

std::optional<std::string> check_oom_score_adj(int64_t value) {
  if (value < -1000 || value > 1000) {
    return fmt::format("expected -1000 to 1000 (the kernel's oom_score_adj), got {}", value);
  }
  return std::nullopt;
}

std::optional<std::string> check_circuit_failures(int64_t failures) {
  if (failures < 1) return expected_positive_integer(failures);
  if (failures > std::numeric_limits<int>::max()) {
    return fmt::format("expected at most {}, got {}", std::numeric_limits<int>::max(), failures);
  }
  return std::nullopt;
}

std::optional<std::string> check_restart_backoff(double backoff) {
  if (std::isfinite(backoff) && backoff >= 1.0) return std::nullopt;
  return fmt::format("expected a number of at least 1, got {}", backoff);
}

std::optional<std::string> check_signal_number(int64_t signo) {
  if (signo >= 1 && signo <= _NSIG - 1) return std::nullopt;
  return fmt::format("expected a signal between 1 and {}, got {}", _NSIG - 1, signo);
}

std::optional<std::string> check_text(std::string_view text) {
  if (text.find('\0') == std::string_view::npos) return std::nullopt;
  return "expected a string without NUL characters";
}

std::optional<std::string> check_env_name(std::string_view name) {
  if (!name.empty() && name.find('=') == std::string_view::npos &&
      name.find('\0') == std::string_view::npos) {
    return std::nullopt;
  }
  return fmt::format("expected a variable name without '=', got '{}'", name);
}

std::optional<std::string> check_command_length(size_t argc) {
  if (argc > 0) return std::nullopt;
  return "expected a non-empty array of strings, got an empty array";
}

std::optional<std::string> check_program(std::string_view argv0) {
  if (!argv0.empty()) return std::nullopt;
  return "expected a program name, got ''";
}

std::optional<std::string> check_duration(std::string_view field, Millis value) {
  bool zero_allowed = true;
  for (const auto& rule : kDurationRules) {
    if (rule.field == field) zero_allowed = rule.zero_allowed;
  }
  if (value < Millis{0} || (value == Millis{0} && !zero_allowed)) {
    return fmt::format("expected a duration {}, got {}",
                       zero_allowed ? "of at least 0" : "greater than 0",
                       format_duration_exact(value));
  }
  if (value > kMaxDuration) {
    return fmt::format("expected a duration of at most 3650d, got {}",
                       format_duration_exact(value));
  }
  return std::nullopt;
}

namespace {

// memory_max: only on an instance's own cgroup, and above critical, which must act first (it
// writes the crash report; the kernel's kill at memory_max writes none).
std::optional<ConfigProblem> check_memory_max(const ServiceConfig& service) {
  if (service.memory_max == 0 && !service.memory_max_auto) return std::nullopt;
  if (!service.cgroup) {
    return ConfigProblem{"memory_max",
                         "needs cgroup = true: the kernel applies it to each instance's own "
                         "memory cgroup"};
  }
  const auto& critical = service.memory.critical;
  if (service.memory_max_auto) {
    if (!critical) return ConfigProblem{"memory_max", "\"auto\" is critical + 10%: set critical"};
    return std::nullopt;
  }
  const MetricKind kind =
      critical ? critical->metric.value_or(service.memory.metric).kind : MetricKind::gauge;
  if (critical && kind != MetricKind::gauge && kind != MetricKind::swap &&
      critical->size >= service.memory_max) {
    return ConfigProblem{
        "memory_max",
        fmt::format("expected above critical ({}), got {}: critical must stop the instance and "
                    "write its crash report before the kernel kills it",
                    format_size_exact(critical->size), format_size_exact(service.memory_max))};
  }
  return std::nullopt;
}

}  // namespace

std::optional<ConfigProblem> check_service_together(const ServiceConfig& service) {
  if (service.restart_delay_max < service.restart_delay) {
    return ConfigProblem{"restart_delay_max",
                         fmt::format("expected at least restart_delay ({}), got {}",
                                     format_duration_exact(service.restart_delay),
                                     format_duration_exact(service.restart_delay_max))};
  }
  if (auto order = find_size_order_problem(service.memory)) return order->blame(false);
  if (auto max = check_memory_max(service)) return max;
  return std::nullopt;
}

namespace {

std::optional<ConfigProblem> find_service_problem(const ServiceConfig& s) {
  std::string path = service_path(s.name);
  std::optional<ConfigProblem> problem;
  auto check = [&](std::string_view field, std::optional<std::string> what) {
    if (!problem && what) problem = ConfigProblem{fmt::format("{}.{}", path, field), *what};
  };
  check("command", check_command_length(s.command.size()));
  if (!s.command.empty()) check("command[0]", check_program(s.command[0]));
  for (size_t i = 0; i < s.command.size(); ++i) {
    check(fmt::format("command[{}]", i), check_text(s.command[i]));
  }
  check("instances", check_instances(s.instances));
  for (const auto& [name, value] : s.env) {
    check("env", check_env_name(name));
    check("env." + path_key(name), check_text(value));
  }
  check("cwd", check_text(s.cwd));
  check("user", check_text(s.user));
  if (enum_name(kRestartPolicyNames, s.restart) == "?") check("restart", "expected a policy");
  check("restart_delay", check_duration("restart_delay", s.restart_delay));
  check("restart_backoff", check_restart_backoff(s.restart_backoff));
  check("restart_delay_max", check_duration("restart_delay_max", s.restart_delay_max));
  check("min_uptime", check_duration("min_uptime", s.min_uptime));
  check("circuit_failures", check_circuit_failures(s.circuit_failures));
  check("oom_score_adj", check_oom_score_adj(s.oom_score_adj));
  check("circuit_cooldown", check_duration("circuit_cooldown", s.circuit_cooldown));
  check("stop_signal", check_signal_number(s.stop_signal));
  check("stop_timeout", check_duration("stop_timeout", s.stop_timeout));
  check("kill_timeout", check_duration("kill_timeout", s.kill_timeout));
  if (enum_name(kReadyModeNames, s.ready) == "?") check("ready", "expected a ready mode");
  check("startup_timeout", check_duration("startup_timeout", s.startup_timeout));
  check("watchdog", check_duration("watchdog", s.watchdog));
  if (enum_name(kOutputModeNames, s.output) == "?") check("output", "expected an output mode");
  check("log_dir", check_text(s.log_dir));
  check("log_keep", check_log_keep(s.log_keep));
  check("prefork_signal", check_signal_number(s.prefork_signal));
  check("prefork_timeout", check_duration("prefork_timeout", s.prefork_timeout));
  if (problem) return problem;
  if (auto listen = find_listen_problem(s)) {
    listen->field = fmt::format("{}.{}", path, listen->field);
    return listen;
  }
  if (auto memory = find_memory_problem(s)) {
    memory->field = fmt::format("{}.{}", path, memory->field);
    return memory;
  }
  if (auto monitor = find_monitor_problem(s)) {
    monitor->field = fmt::format("{}.{}", path, monitor->field);
    return monitor;
  }
  if (auto together = check_service_together(s)) {
    together->field = fmt::format("{}.{}", path, together->field);
    return together;
  }
  return std::nullopt;
}

}  // namespace

std::optional<ConfigProblem> find_config_problem(const Config& config) {
  if (auto what = check_text(config.supervisor.state_dir)) {
    return ConfigProblem{"supervisor.state_dir", *what};
  }
  if (config.supervisor.total) {
    if (auto problem = check_size_rule("supervisor.total", *config.supervisor.total))
      return problem;
    if (config.supervisor.total->metric && config.supervisor.total->metric->is_gauge()) {
      return ConfigProblem{"supervisor.total.metric",
                           "the total rule sums memory over instances and cannot read a gauge"};
    }
  }
  if (auto what = check_incidents_keep(config.supervisor.incidents_keep)) {
    return ConfigProblem{"supervisor.incidents_keep", *what};
  }
  if (auto what = check_oom_score_adj(config.supervisor.oom_score_adj)) {
    return ConfigProblem{"supervisor.oom_score_adj", *what};
  }
  if (config.supervisor.pressure) {
    if (auto what = check_pressure(*config.supervisor.pressure)) {
      return ConfigProblem{"supervisor.pressure", *what};
    }
  }
  if (auto what = check_size(config.supervisor.incidents_max_size)) {
    return ConfigProblem{"supervisor.incidents_max_size", *what};
  }
  if (auto what = check_log_keep(config.supervisor.events_keep)) {
    return ConfigProblem{"supervisor.events_keep", *what};
  }
  if (config.services.empty()) {
    return ConfigProblem{"", "no services defined; add a [service.NAME] table"};
  }
  std::set<std::string_view> names;
  for (size_t i = 0; i < config.services.size(); ++i) {
    const ServiceConfig& service = config.services[i];
    if (auto what = check_service_name(service.name)) {
      return ConfigProblem{service_path(service.name), *what};
    }
    if (!names.insert(service.name).second) {
      return ConfigProblem{service_path(service.name), "service defined twice"};
    }
    if (auto problem = find_service_problem(service)) return problem;
    if (auto conflict = find_listen_conflict(service, config.services, i)) {
      ConfigProblem problem = listen_problem(*conflict);
      problem.field = fmt::format("{}.{}", service_path(service.name), problem.field);
      return problem;
    }
  }
  return std::nullopt;
}

Status validate_config(const Config& config) {
  if (auto problem = find_config_problem(config)) return Error{problem->describe()};
  return {};
}

std::string describe_config(const Config& config) {
  int64_t instances = 0;
  std::string each;
  for (const ServiceConfig& service : config.services) {
    instances += service.instances;
    each +=
        fmt::format("{}{} ×{}{}{}", each.empty() ? "" : ", ", service.name, service.instances,
                    service.prefork ? " prefork" : "",
                    describe_memory_rules(service.memory) + describe_monitors(service.monitors));
    for (const SocketAddress& address : service.listen) each += " on " + to_string(address);
  }
  size_t services = config.services.size();
  std::string total;
  if (config.supervisor.total)
    total = ", total " + format_size_exact(config.supervisor.total->size);
  if (!config.supervisor.http.empty()) total += ", http " + config.supervisor.http;
  return fmt::format("ok: {}: {} service{}, {} instance{} ({}){}", config.source, services,
                     services == 1 ? "" : "s", instances, instances == 1 ? "" : "s", each, total);
}

}  // namespace memvisor
