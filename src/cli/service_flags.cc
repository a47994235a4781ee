#include "cli/service_flags.h"

#include <fmt/format.h>

#include <charconv>
#include <filesystem>

#include "core/config_names.h"
#include "core/config_validate.h"
#include "core/units.h"

namespace memvisor {
namespace {

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

Result<int64_t> parse_integer(std::string_view flag, const std::string& text) {
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || end != text.data() + text.size()) {
    return Error{fmt::format("{}: expected an integer, got '{}'", flag, text)};
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

Status check(std::string_view flag, const std::optional<std::string>& problem) {
  if (problem) return Error{fmt::format("{}: {}", flag, *problem)};
  return {};
}

}  // namespace

void ServiceFlags::add_to(CLI::App& app) {
  const std::string group = "Service (without a config file)";
  app.add_option("--name", name_, "service name (default: the program's name)")->group(group);
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
  app.add_option("--ready", ready_, "immediate | notify (default immediate)")->group(group);
  app.add_option("--output", output_, "prefix | file (default prefix)")->group(group);
  app.add_option("--log-dir", log_dir_, "with --output file: where SERVICE.N.log go")->group(group);
  for (const auto& [key, member] : kServiceDurations) {
    app.add_option(flag_for(key), durations_[std::string(key)], "a duration such as 100ms, 10s, 5m")
        ->group(group);
  }
}

std::string ServiceFlags::first_given(const CLI::App& app) const {
  for (const CLI::Option* option : app.get_options()) {
    if (option->get_group() == "Service (without a config file)" && option->count() > 0) {
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
  service.name = name_.empty() ? name_from_command(command) : name_;
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
  if (!stop_signal_.empty()) {
    auto signal = parse_signal(stop_signal_);
    if (!signal)
      return Error{
          fmt::format("--stop-signal: expected a signal name like SIGINT, got '{}'", stop_signal_)};
    service.stop_signal = *signal;
  }
  for (const auto& [key, member] : kServiceDurations) {
    const std::string& text = durations_.at(std::string(key));
    if (text.empty()) continue;
    auto duration = parse_duration(text);
    if (!duration) return Error{fmt::format("{}: {}", flag_for(key), duration.error().message)};
    if (Status s = check(flag_for(key), check_duration(key, *duration)); !s) return s.error();
    service.*member = *duration;
  }
  if (auto problem = check_service_together(service)) {
    return Error{fmt::format("{}: {}", flag_for(problem->field), problem->what)};
  }
  return service;
}

}  // namespace memvisor
