// The flags of `memvisor run -- CMD`: the same parse and check functions as the config file, so a
// bad value reads the same in both, with the flag's name in front.
#include "cli/service_flags.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <charconv>
#include <filesystem>
#include <optional>
#include <tuple>

#include "core/config/config_names.h"
#include "core/config/config_validate.h"
#include "core/config/config_validate_memory.h"
#include "core/config/http_url.h"
#include "core/config/metric_name.h"
#include "core/units.h"

namespace memvisor {
namespace {

constexpr std::string_view kServiceGroup = "Service (without a config file)";
constexpr std::string_view kMemoryGroup = "Memory rules (without a config file)";

std::string flag_for(std::string_view key) {
  std::string flag = "--" + std::string(key);
  for (char& c : flag) c = c == '_' ? '-' : c;
  return flag;
}

// A service name from the program: "python3" from "/usr/bin/python3", invalid characters as '-'.
std::string name_from_command(const std::vector<std::string>& command) {
  std::string name = std::filesystem::path(command.front()).filename().string();
  if (name.size() > kMaxServiceNameLength) name.resize(kMaxServiceNameLength);
  for (char& c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '-';
    if (!ok) c = '-';
  }
  return name.empty() ? "app" : name;
}

Result<int64_t> parse_int64(std::string_view text) {
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) {
    return Error{fmt::format("expected an integer, got '{}'", text)};
  }
  return value;
}

template <class E, size_t N>
Status parse_enum(std::string_view flag, const std::string& text,
                  const std::array<EnumName<E>, N>& names, E& out) {
  if (text.empty()) return {};
  auto value = enum_from_name(names, text);
  if (!value) {
    return Error{fmt::format("{}: expected one of {}, got '{}'", flag, enum_choices(names), text)};
  }
  out = *value;
  return {};
}

// --metric: a memory kind or gauge:NAME.
Status parse_metric_flag(std::string_view flag, const std::string& text, MemoryMetric& out) {
  if (text.empty()) return {};
  std::string why;
  auto metric = parse_metric(text, why);
  if (!metric) return Error{fmt::format("{}: {}", flag, why)};
  out = std::move(*metric);
  return {};
}

Status check(std::string_view flag, const std::optional<std::string>& problem) {
  if (problem) return Error{fmt::format("{}: {}", flag, *problem)};
  return {};
}

// Parses a flag's text and checks the value; leaves `out` alone when the flag was not given.
template <class T, class Check>
Status parse_flag(std::string_view flag, const std::string& text,
                  Result<T> (*parse)(std::string_view), Check&& check_value, T& out) {
  if (text.empty()) return {};
  auto value = parse(text);
  if (!value) return Error{fmt::format("{}: {}", flag, value.error().message)};
  out = *value;
  return check(flag, check_value(out));
}

// A flag that refines another (--limit-for refines --limit) means nothing alone.
Status needs(std::string_view flag, const std::string& text, std::string_view other,
             const std::string& other_text) {
  if (text.empty() || !other_text.empty()) return {};
  return Error{fmt::format("{}: only applies together with {}", flag, other)};
}

}  // namespace

Result<int64_t> ServiceFlags::parse_integer(std::string_view flag, const std::string& text) {
  auto value = parse_int64(text);
  if (!value) return Error{fmt::format("{}: {}", flag, value.error().message)};
  return value;
}

void ServiceFlags::add_to(CLI::App& app) {
  const std::string group(kServiceGroup);
  app.add_option("--name", name_, "service name (default: the program's name)")
      ->group(group)
      ->each([this](const std::string&) { name_given_ = true; });
  app.add_option("--instances", instances_, "number of instances (default 1)")->group(group);
  app.add_option("--env", env_, "KEY=VALUE added to the environment (repeatable)")->group(group);
  app.add_option("--cwd", cwd_, "working directory of the instances")->group(group);
  app.add_option("--user", user_, "run the instances as this user (root only)")->group(group);
  app.add_flag("--shell", shell_, "run the single command string with /bin/sh -c")->group(group);
  app.add_option("--restart", restart_, "always | on-failure | never (default always)")
      ->group(group);
  app.add_option("--restart-backoff", restart_backoff_, "delay factor per failed run (default 2)")
      ->group(group);
  app.add_option("--circuit-failures", circuit_failures_,
                 "failed starts in a row that open the crash-loop circuit (default 5)")
      ->group(group);
  app.add_option("--stop-signal", stop_signal_, "first signal of a stop (default SIGINT)")
      ->group(group);
  app.add_flag("--prefork", prefork_,
               "a pre-fork server: measure and recycle each child of an instance on its own")
      ->group(group);
  app.add_option("--prefork-signal", prefork_signal_,
                 "with --prefork: the signal that recycles a child (default SIGTERM)")
      ->group(group);
  app.add_option("--ready", ready_, "immediate | notify (default immediate)")->group(group);
  app.add_option("--output", output_, "prefix | file (default prefix)")->group(group);
  app.add_option("--log-dir", log_dir_, "with --output file: where SERVICE.N.log go")->group(group);
  app.add_option("--log-max-size", log_max_size_,
                 "with --output file: rotate a log past this size (default 64MiB; 0: never)")
      ->group(group);
  app.add_option("--log-keep", log_keep_, "with --output file: rotated logs kept (default 3)")
      ->group(group);
  for (const auto& [key, member] : kServiceDurations) {
    app.add_option(flag_for(key), durations_[std::string(key)], "a duration such as 100ms, 10s, 5m")
        ->group(group);
  }
  add_listen_to(app, group);
  add_memory_to(app, std::string(kMemoryGroup));
}

void ServiceFlags::add_guard_flags_to(CLI::App& app) {
  add_memory_to(app, std::string(kMemoryGroup), /*guard_only=*/true);
}

void ServiceFlags::add_memory_to(CLI::App& app, const std::string& group, bool guard_only) {
  const std::array<std::tuple<const char*, std::string*, const char*>, 16> options{{
      {"--interval", &interval_, "memory sampling period, 100ms to 1h (default 1s)"},
      {"--metric", &metric_, "pss | rss | uss | anon | swap | cgroup | gauge:NAME (default pss)"},
      {"--warn", &warn_, "warn when an instance uses more than SIZE, e.g. 400MiB"},
      {"--limit", &limit_, "recycle an instance above SIZE for --limit-for samples in a row"},
      {"--limit-for", &limit_for_, "samples in a row above --limit before a recycle (default 3)"},
      {"--critical", &critical_, "the critical size of an instance, above --limit"},
      {"--total", &total_, "a limit on the sum over all instances"},
      {"--leak", &leak_, "act on sustained growth faster than RATE, e.g. 10MiB/h"},
      {"--leak-action", &leak_action_, "recycle | alert (default recycle)"},
      {"--leak-sample", &leak_sample_, "take a heap sample this long before a leak recycle"},
      {"--leak-warmup", &leak_warmup_,
       "growth that begins this early is judged from twice this age on, or when sudden (default "
       "30m)"},
      {"--max-requests", &max_requests_, "recycle an instance after N requests"},
      {"--requests-jitter", &requests_jitter_, "plus up to N more (default a tenth)"},
      {"--max-age", &max_age_, "recycle an instance after this much uptime, e.g. 6h"},
      {"--age-jitter", &age_jitter_, "plus up to this much more (default a tenth)"},
      {"--max-recycling", &max_recycling_, "instances recycling at once (default 1)"},
  }};
  // What means something for one process and no pool: the sizes and the leak rule (whose
  // recycle becomes a kill), how it is measured, and alert-only leaks.
  static constexpr std::string_view kGuard[] = {"--interval", "--metric",      "--warn",
                                                "--limit",    "--limit-for",   "--critical",
                                                "--leak",     "--leak-action", "--leak-warmup"};
  for (const auto& [name, text, help] : options) {
    if (guard_only && std::find(std::begin(kGuard), std::end(kGuard), name) == std::end(kGuard)) {
      continue;
    }
    app.add_option(name, *text, help)->group(group);
  }
  app.add_flag("--tree", tree_, "measure each instance's whole process tree")->group(group);
  if (guard_only) return;
  app.add_flag("--heap-sampler", heap_sampler_,
               "preload the heap sampler, so `memvisor sample` can look inside the instances")
      ->group(group);
  app.add_option("--heap-runtime", heap_runtime_,
                 "with --heap-sampler: force the runtime's sampler (node, python, jvm, ruby, go, "
                 "native) instead of telling it from each process")
      ->group(group);
  app.add_option("--pprof", pprof_, "a Go worker's net/http/pprof URL, e.g. http://127.0.0.1:6060")
      ->group(group);
  app.add_flag("--cgroup", cgroup_,
               "each instance process in a memory cgroup of its own (for --metric cgroup)")
      ->group(group);
  app.add_flag("--no-surge", no_surge_, "recycle by stopping first, then starting the replacement")
      ->group(group);
}

std::string ServiceFlags::first_given(const CLI::App& app) const {
  for (const CLI::Option* option : app.get_options()) {
    const std::string& group = option->get_group();
    if ((group == kServiceGroup || group == kMemoryGroup) && option->count() > 0) {
      return option->get_name();
    }
  }
  return "";
}

Result<ServiceConfig> ServiceFlags::build(const std::vector<std::string>& command) const {
  ServiceConfig service;
  if (shell_) {
    if (command.size() != 1) {
      return Error{"--shell: expected the command as one string, e.g. -- 'echo $HOME'"};
    }
    service.command = {"/bin/sh", "-c", command.front()};
  } else {
    service.command = command;
  }
  // Given but empty ("--name ''"): refused like [service.""] in a file, not the default.
  service.name = name_given_ ? name_ : name_from_command(command);
  if (Status s = check("--name", check_service_name(service.name)); !s) return s.error();
  if (!instances_.empty()) {
    auto n = parse_integer("--instances", instances_);
    if (!n) return n.error();
    if (Status s = check("--instances", check_instances(*n)); !s) return s.error();
    service.instances = static_cast<int>(*n);
  }
  for (const std::string& entry : env_) {
    const size_t eq = entry.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Error{fmt::format("--env: expected KEY=VALUE, got '{}'", entry)};
    }
    const std::string key = entry.substr(0, eq);
    if (Status s = check("--env", check_env_name(key)); !s) return s.error();
    service.env[key] = entry.substr(eq + 1);
  }
  service.cwd = cwd_;
  service.user = user_;
  service.log_dir = log_dir_;
  if (!log_max_size_.empty()) {
    auto size = parse_size(log_max_size_);
    if (!size) return Error{fmt::format("--log-max-size: {}", size.error().message)};
    service.log_max_size = *size;
  }
  if (!log_keep_.empty()) {
    auto n = parse_integer("--log-keep", log_keep_);
    if (!n) return n.error();
    if (Status s = check("--log-keep", check_log_keep(*n)); !s) return s.error();
    service.log_keep = static_cast<int>(*n);
  }
  if (Status s = parse_enum("--restart", restart_, kRestartPolicyNames, service.restart); !s)
    return s.error();
  if (Status s = parse_enum("--ready", ready_, kReadyModeNames, service.ready); !s)
    return s.error();
  if (Status s = parse_enum("--output", output_, kOutputModeNames, service.output); !s)
    return s.error();
  if (!restart_backoff_.empty()) {
    double factor = 0;
    const auto [end, ec] = std::from_chars(
        restart_backoff_.data(), restart_backoff_.data() + restart_backoff_.size(), factor);
    if (ec != std::errc{} || end != restart_backoff_.data() + restart_backoff_.size()) {
      return Error{fmt::format("--restart-backoff: expected a number, got '{}'", restart_backoff_)};
    }
    if (Status s = check("--restart-backoff", check_restart_backoff(factor)); !s) return s.error();
    service.restart_backoff = factor;
  }
  if (!circuit_failures_.empty()) {
    auto n = parse_integer("--circuit-failures", circuit_failures_);
    if (!n) return n.error();
    if (Status s = check("--circuit-failures", check_circuit_failures(*n)); !s) return s.error();
    service.circuit_failures = static_cast<int>(*n);
  }
  for (const auto& [flag, text, out] :
       {std::tuple{"--stop-signal", &stop_signal_, &service.stop_signal},
        std::tuple{"--prefork-signal", &prefork_signal_, &service.prefork_signal}}) {
    if (text->empty()) continue;
    auto signal = parse_signal(*text);
    if (!signal) {
      return Error{fmt::format("{}: expected a signal name like SIGINT, got '{}'", flag, *text)};
    }
    *out = *signal;
  }
  service.prefork = prefork_;
  for (const auto& [key, member] : kServiceDurations) {
    const auto given = durations_.find(std::string(key));  // absent: not registered (watch)
    if (given == durations_.end() || given->second.empty()) continue;
    const std::string& text = given->second;
    auto duration = parse_duration(text);
    if (!duration) return Error{fmt::format("{}: {}", flag_for(key), duration.error().message)};
    if (Status s = check(flag_for(key), check_duration(key, *duration)); !s) return s.error();
    service.*member = *duration;
  }
  if (Status s = build_listen(service); !s) return s.error();
  if (Status s = build_memory(service); !s) return s.error();
  if (auto problem = check_service_together(service)) {
    return Error{fmt::format("{}: {}", flag_for(problem->field), problem->what)};
  }
  return service;
}

Status ServiceFlags::build_memory(ServiceConfig& service) const {
  MemoryRules& m = service.memory;
  m.tree = tree_;
  service.surge = !no_surge_;
  service.heap_sampler = heap_sampler_ || !heap_runtime_.empty();
  if (!heap_runtime_.empty()) {
    service.heap_runtime = parse_runtime_kind(heap_runtime_);
    if (!service.heap_runtime) {
      return Error{
          fmt::format("--heap-runtime: expected node, python, jvm, ruby, go or native, got '{}'",
                      heap_runtime_)};
    }
  }
  if (!pprof_.empty()) {
    if (auto problem = check_pprof_url(pprof_)) return Error{"--pprof: " + *problem};
    service.pprof = pprof_;
  }
  service.cgroup = cgroup_;
  SizeRule warn, critical, total;
  LimitRule limit;
  LeakRule leak;
  RequestsRule requests;
  AgeRule age;
  int64_t samples = limit.samples;
  int64_t recycling = service.max_recycling;
  // In order (a braced list is evaluated left to right); the first problem is the message.
  const Status values[] = {
      parse_flag("--interval", interval_, parse_duration, check_interval, m.interval),
      parse_metric_flag("--metric", metric_, m.metric),
      parse_flag("--warn", warn_, parse_size, check_size, warn.size),
      parse_flag("--limit", limit_, parse_size, check_size, limit.size),
      needs("--limit-for", limit_for_, "--limit", limit_),
      parse_flag("--limit-for", limit_for_, parse_int64, check_limit_samples, samples),
      parse_flag("--critical", critical_, parse_size, check_size, critical.size),
      parse_flag("--total", total_, parse_size, check_size, total.size),
      parse_flag("--leak", leak_, parse_rate, check_rate, leak.rate_bytes_per_hour),
      needs("--leak-action", leak_action_, "--leak", leak_),
      parse_enum("--leak-action", leak_action_, kLeakActionNames, leak.action),
      needs("--leak-sample", leak_sample_, "--leak", leak_),
      parse_flag("--leak-sample", leak_sample_, parse_duration, check_leak_sample, leak.sample),
      needs("--leak-warmup", leak_warmup_, "--leak", leak_),
      parse_flag("--leak-warmup", leak_warmup_, parse_duration, check_leak_warmup, leak.warmup),
      parse_flag("--max-requests", max_requests_, parse_int64, check_requests_max, requests.max),
      parse_flag("--max-age", max_age_, parse_duration, check_age_max, age.max),
      parse_flag("--max-recycling", max_recycling_, parse_int64, check_max_recycling, recycling),
  };
  for (const Status& value : values) {
    if (!value) return value;
  }
  // Each jitter is checked against its max, so only once the max is known.
  requests.jitter = default_jitter(requests.max);
  age.jitter = default_jitter(age.max);
  const Status jitters[] = {
      needs("--requests-jitter", requests_jitter_, "--max-requests", max_requests_),
      parse_flag(
          "--requests-jitter", requests_jitter_, parse_int64,
          [&](int64_t jitter) { return check_requests_jitter(jitter, requests.max); },
          requests.jitter),
      needs("--age-jitter", age_jitter_, "--max-age", max_age_),
      parse_flag(
          "--age-jitter", age_jitter_, parse_duration,
          [&](Millis jitter) { return check_age_jitter(jitter, age.max); }, age.jitter),
  };
  for (const Status& jitter : jitters) {
    if (!jitter) return jitter;
  }
  limit.samples = static_cast<int>(samples);  // the checks bound both
  service.max_recycling = static_cast<int>(recycling);
  if (!warn_.empty()) m.warn = warn;
  if (!limit_.empty()) m.limit = limit;
  if (!critical_.empty()) m.critical = critical;
  if (!total_.empty()) m.total = total;
  if (!leak_.empty()) m.leak = leak;
  if (!max_requests_.empty()) m.requests = requests;
  if (!max_age_.empty()) m.age = age;
  return {};
}

}  // namespace memvisor
