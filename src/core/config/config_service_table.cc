// Reads one [service.NAME] table, the memory keys through config_memory_table. Keys go in file
// order; every value passes the check function validate_config uses: same things, same words.
#include "core/config/config_service_table.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <map>
#include <string>
#include <tuple>

#include "core/config/config_memory_table.h"
#include "core/config/config_monitor.h"
#include "core/config/config_names.h"
#include "core/config/config_toml_values.h"
#include "core/config/config_validate.h"
#include "core/config/config_validate_listen.h"
#include "core/config/config_validate_memory.h"
#include "core/config/http_url.h"
#include "core/units.h"

namespace memvisor {
namespace {

// clang-format off
constexpr std::array<std::string_view, 36> kBasicKeys{
    "command", "shell", "instances", "env", "cwd", "user",
    "listen", "listen_backlog", "listen_mode", "listen_owner",
    "restart", "restart_delay", "restart_backoff", "restart_delay_max", "min_uptime",
    "circuit_failures", "circuit_cooldown",
    "stop_signal", "stop_timeout", "kill_timeout",
    "ready", "startup_timeout", "watchdog",
    "output", "log_dir", "log_max_size", "log_keep", "heap_sampler", "pprof", "cgroup",
    "prefork", "prefork_signal", "prefork_timeout", "monitor", "oom_score_adj",
    "memory_max"};
// clang-format on

template <size_t A, size_t B>
constexpr std::array<std::string_view, A + B> joined(const std::array<std::string_view, A>& a,
                                                     const std::array<std::string_view, B>& b) {
  std::array<std::string_view, A + B> all{};
  std::copy(a.begin(), a.end(), all.begin());
  std::copy(b.begin(), b.end(), all.begin() + A);
  return all;
}

constexpr auto kServiceKeys = joined(kBasicKeys, kMemoryKeys);

bool is_memory_key(std::string_view key) {
  return std::find(kMemoryKeys.begin(), kMemoryKeys.end(), key) != kMemoryKeys.end();
}

// Reads one [service.NAME] table into a ServiceConfig that starts with the defaults.
class ServiceReader {
 public:
  ServiceReader(const toml::table& table, ServiceConfig& service)
      : s_(service), table_(table), path_(service_path(service.name)) {}

  TomlProblem read() {
    if (const toml::node* shell = table_.get("shell")) {  // first: command depends on it
      const auto* flag = shell->as_boolean();
      if (!flag) return wrong_type(*shell, field("shell"), "a boolean");
      shell_ = flag->get();
    }
    for (auto [key, node] : in_file_order(table_)) {
      std::string_view name = key->str();
      if (std::find(kServiceKeys.begin(), kServiceKeys.end(), name) == kServiceKeys.end()) {
        // The leak rule's own keys, written at the service's level (README names `warmup` on its
        // own): say where they go rather than suggest a service key that looks alike.
        if (name == "warmup" || name == "rate") {
          return Located{key->source().begin,
                         fmt::format("unknown key '{}' in [{}]; it is a key of the leak rule: leak "
                                     "= {{ rate = \"10MiB/h\", warmup = \"30m\" }}",
                                     name, path_)};
        }
        return unknown_key(*key, path_, kServiceKeys);
      }
      seen_[std::string(name)] = size_position(*node);
      if (auto problem = read_value(name, *node)) return problem;
    }
    if (s_.command.empty()) {
      return Located{table_.source().begin, path_ + ": missing required key 'command'"};
    }
    if (auto order = find_size_order_problem(s_.memory)) {  // blame whichever was written last
      const auto& lower = seen_.at(std::string(order->lower));
      const auto& upper = seen_.at(std::string(order->upper));
      bool on_lower = std::tie(lower.line, lower.column) > std::tie(upper.line, upper.column);
      ConfigProblem problem = order->blame(on_lower);
      return Located{on_lower ? lower : upper,
                     fmt::format("{}: {}", field(problem.field), problem.what)};
    }
    if (auto problem = check_service_together(s_)) {
      auto it = seen_.find(problem->field);
      if (it == seen_.end()) {  // the default is at fault, so point at what made it so
        it = seen_.find("restart_delay");
        problem->what += " (the default)";
      }
      auto where = it == seen_.end() ? table_.source().begin : it->second;
      return Located{where, fmt::format("{}: {}", field(problem->field), problem->what)};
    }
    return std::nullopt;
  }

 private:
  std::string field(std::string_view key) const { return fmt::format("{}.{}", path_, key); }

  TomlProblem read_value(std::string_view key, const toml::node& node) {
    for (const auto& [name, member] : kServiceDurations) {
      if (key == name) return read_duration(key, node, s_.*member);
    }
    if (is_memory_key(key)) return read_memory_key(key, node, path_, s_);
    if (key == "command") return read_command(node);
    if (key == "monitor") return read_monitor_key(node, path_, s_);
    if (key == "shell") return std::nullopt;
    if (key == "instances") return read_integer(key, node, check_instances, s_.instances);
    if (key == "env") return read_env(node);
    if (key == "cwd") return read_string(key, node, s_.cwd);
    if (key == "user") {
      s_.user_line = node.source().begin.line;
      s_.user_column = node.source().begin.column;
      return read_string(key, node, s_.user);
    }
    if (key == "listen") return read_listen(node);
    if (key == "listen_backlog") {
      return read_integer(key, node, check_listen_backlog, s_.listen_backlog);
    }
    if (key == "listen_mode") return read_listen_mode(node);
    if (key == "listen_owner") {
      if (auto problem = read_string(key, node, s_.listen_owner)) return problem;
      if (auto what = check_listen_owner(s_.listen_owner))
        return located_at(node, field(key), *what);
      return std::nullopt;
    }
    if (key == "restart") return read_enum_value(node, field(key), kRestartPolicyNames, s_.restart);
    if (key == "restart_backoff") return read_backoff(node);
    if (key == "circuit_failures") {
      return read_integer(key, node, check_circuit_failures, s_.circuit_failures);
    }
    if (key == "oom_score_adj") {
      return read_integer(key, node, check_oom_score_adj, s_.oom_score_adj);
    }
    if (key == "stop_signal") return read_signal(key, node, s_.stop_signal);
    if (key == "prefork_signal") return read_signal(key, node, s_.prefork_signal);
    if (key == "prefork") return read_boolean_value(node, field(key), s_.prefork);
    if (key == "ready") return read_enum_value(node, field(key), kReadyModeNames, s_.ready);
    if (key == "output") return read_enum_value(node, field(key), kOutputModeNames, s_.output);
    if (key == "heap_sampler") return read_heap_sampler(node);
    if (key == "pprof") return read_pprof(node);
    if (key == "cgroup") return read_boolean_value(node, field(key), s_.cgroup);
    if (key == "memory_max") return read_memory_max(node);
    if (key == "log_max_size") return read_size_value(node, field(key), s_.log_max_size);
    if (key == "log_keep") return read_integer(key, node, check_log_keep, s_.log_keep);
    return read_string(key, node, s_.log_dir);  // the last of kServiceKeys
  }

  // true, false, or the runtime's sampler forced by name.
  TomlProblem read_heap_sampler(const toml::node& node) {
    if (node.is_boolean()) return read_boolean_value(node, field("heap_sampler"), s_.heap_sampler);
    const char* expected = "true, false, or one of 'node', 'python', 'jvm', 'ruby', 'go', 'native'";
    const auto* text = node.as_string();
    if (!text) return wrong_type(node, field("heap_sampler"), expected);
    auto kind = parse_runtime_kind(text->get());
    if (!kind) {
      return located_at(node, field("heap_sampler"),
                        std::string("expected ") + expected + ", got '" + text->get() + "'");
    }
    s_.heap_sampler = true;
    s_.heap_runtime = *kind;
    return std::nullopt;
  }

  // A size, or "auto": critical + 10%.
  TomlProblem read_memory_max(const toml::node& node) {
    if (const auto* text = node.as_string(); text && text->get() == "auto") {
      s_.memory_max_auto = true;
      return std::nullopt;
    }
    if (auto problem = read_size_value(node, field("memory_max"), s_.memory_max)) {
      problem->message += " (or \"auto\": critical + 10%)";
      return problem;
    }
    if (auto what = check_size(s_.memory_max)) return located_at(node, field("memory_max"), *what);
    return std::nullopt;
  }

  TomlProblem read_pprof(const toml::node& node) {
    if (auto problem = read_string("pprof", node, s_.pprof)) return problem;
    if (auto what = check_pprof_url(s_.pprof)) return located_at(node, field("pprof"), *what);
    return std::nullopt;
  }

  TomlProblem read_command(const toml::node& node) {
    if (shell_) {
      const auto* line = node.as_string();
      if (!line) return wrong_type(node, field("command"), "a string (shell = true)");
      if (line->get().empty()) {
        return located_at(node, field("command"), "expected a non-empty shell command, got ''");
      }
      if (auto what = check_text(line->get())) return located_at(node, field("command"), *what);
      s_.command = {"/bin/sh", "-c", line->get()};
      return std::nullopt;
    }
    const auto* array = node.as_array();
    if (!array && node.is_string()) {
      return located_at(
          node, field("command"),
          "expected an array of strings, got a string (set shell = true to run it with "
          "/bin/sh -c)");
    }
    if (!array) return wrong_type(node, field("command"), "an array of strings");
    if (auto what = check_command_length(array->size())) {
      return located_at(node, field("command"), *what);
    }
    for (size_t i = 0; i < array->size(); ++i) {
      const toml::node& element = *array->get(i);
      std::string element_field = field(fmt::format("command[{}]", i));
      const auto* arg = element.as_string();
      if (!arg) return wrong_type(element, element_field, "a string");
      auto what = i == 0 ? check_program(arg->get()) : std::nullopt;
      if (!what) what = check_text(arg->get());
      if (what) return located_at(element, element_field, *what);
      s_.command.push_back(arg->get());
    }
    return std::nullopt;
  }

  // An array of addresses, or one address as a string.
  TomlProblem read_listen(const toml::node& node) {
    constexpr std::string_view kExpected = "an array of addresses like \"127.0.0.1:8000\"";
    if (node.is_string()) return read_listen_address(node, field("listen"));
    const auto* array = node.as_array();
    if (!array) return wrong_type(node, field("listen"), kExpected);
    if (auto what = check_listen_count(array->size())) {
      return located_at(node, field("listen"), *what);
    }
    for (size_t i = 0; i < array->size(); ++i) {
      const std::string element_field = field(fmt::format("listen[{}]", i));
      if (auto problem = read_listen_address(*array->get(i), element_field)) return problem;
    }
    return std::nullopt;
  }

  TomlProblem read_listen_address(const toml::node& node, const std::string& element_field) {
    const auto* text = node.as_string();
    if (!text) return wrong_type(node, element_field, "a string like \"127.0.0.1:8000\"");
    auto address = parse_socket_address(text->get());
    if (!address) return located_at(node, element_field, address.error().message);
    s_.listen.push_back(*address);
    if (auto conflict = find_listen_conflict(s_, {}, 0)) {
      return located_at(node, element_field, conflict->what);
    }
    return std::nullopt;
  }

  TomlProblem read_listen_mode(const toml::node& node) {
    if (const auto* number = node.as_integer()) {  // 0o660 in TOML
      if (auto what = check_listen_mode(number->get())) {
        return located_at(node, field("listen_mode"), *what);
      }
      s_.listen_mode = static_cast<int>(number->get());
      return std::nullopt;
    }
    const auto* text = node.as_string();
    if (!text) return wrong_type(node, field("listen_mode"), "an octal mode like \"0660\"");
    auto mode = parse_listen_mode(text->get());
    if (!mode) return located_at(node, field("listen_mode"), mode.error().message);
    s_.listen_mode = static_cast<int>(*mode);
    return std::nullopt;
  }

  TomlProblem read_env(const toml::node& node) {
    const auto* table = node.as_table();
    if (!table) return wrong_type(node, field("env"), "a table of strings");
    for (auto [key, value] : in_file_order(*table)) {
      if (auto what = check_env_name(key->str())) {
        return Located{key->source().begin, fmt::format("{}: {}", field("env"), *what)};
      }
      std::string value_field = field("env." + path_key(key->str()));
      const auto* text = value->as_string();
      if (!text) return wrong_type(*value, value_field, "a string");
      if (auto what = check_text(text->get())) return located_at(*value, value_field, *what);
      s_.env[std::string(key->str())] = text->get();
    }
    return std::nullopt;
  }

  TomlProblem read_string(std::string_view key, const toml::node& node, std::string& out) {
    const auto* text = node.as_string();
    if (!text) return wrong_type(node, field(key), "a string");
    if (auto what = check_text(text->get())) return located_at(node, field(key), *what);
    out = text->get();
    return std::nullopt;
  }

  TomlProblem read_integer(std::string_view key, const toml::node& node,
                           std::optional<std::string> (*check)(int64_t), int& out) {
    const auto* number = node.as_integer();
    if (!number) return wrong_type(node, field(key), "an integer");
    if (auto what = check(number->get())) return located_at(node, field(key), *what);
    out = static_cast<int>(number->get());  // the check bounds it
    return std::nullopt;
  }

  TomlProblem read_duration(std::string_view key, const toml::node& node, Millis& out) {
    Millis value{0};
    if (auto problem = read_duration_value(node, field(key), value)) return problem;
    if (auto what = check_duration(key, value)) return located_at(node, field(key), *what);
    out = value;
    return std::nullopt;
  }

  TomlProblem read_backoff(const toml::node& node) {
    double value = 0;
    if (const auto* real = node.as_floating_point()) {
      value = real->get();
    } else if (const auto* integer = node.as_integer()) {
      value = static_cast<double>(integer->get());
    } else {
      return wrong_type(node, field("restart_backoff"), "a number");
    }
    if (auto what = check_restart_backoff(value)) {
      return located_at(node, field("restart_backoff"), *what);
    }
    s_.restart_backoff = value;
    return std::nullopt;
  }

  // stop_signal and prefork_signal: a name, or a number within the system's signals.
  TomlProblem read_signal(std::string_view key, const toml::node& node, int& out) {
    constexpr std::string_view kExpected = "a signal name like SIGINT or SIGTERM";
    if (const auto* text = node.as_string()) {
      auto signo = parse_signal(text->get());
      if (!signo) {
        return located_at(node, field(key),
                          fmt::format("expected {}, got '{}'", kExpected, text->get()));
      }
      out = *signo;
      return std::nullopt;
    }
    const auto* number = node.as_integer();
    if (!number) return wrong_type(node, field(key), kExpected);
    if (auto what = check_signal_number(number->get())) {
      return located_at(node, field(key), *what);
    }
    out = static_cast<int>(number->get());
    return std::nullopt;
  }

  ServiceConfig& s_;
  const toml::table& table_;
  std::string path_;
  bool shell_ = false;
  // key → value position (for a size rule written as a table, its size)
  std::map<std::string, toml::source_position, std::less<>> seen_;
};

}  // namespace

TomlProblem read_service_table(const toml::table& table, ServiceConfig& service) {
  return ServiceReader(table, service).read();
}

}  // namespace memvisor
