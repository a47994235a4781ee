// TOML → Config. Keys are read in file order and every value goes through the same checks as
// validate_config, so the first problem reported is the first one in the file, with its position.
#include "core/config_parse.h"

#include <fmt/format.h>

#include <toml++/toml.h>
#include <algorithm>
#include <array>
#include <map>
#include <span>
#include <tuple>
#include <vector>

#include "core/closest_match.h"
#include "core/config_names.h"
#include "core/config_validate.h"
#include "core/units.h"

namespace memvisor {
namespace {

// A problem and where it is: message is "FIELD: what" or a whole sentence ("unknown key ...").
struct Located {
  toml::source_position where;
  std::string message;
};
using Problem = std::optional<Located>;

Located at(const toml::node& node, std::string_view field, std::string_view what) {
  return Located{node.source().begin, fmt::format("{}: {}", field, what)};
}

std::string_view type_name(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

Located wrong_type(const toml::node& node, std::string_view field, std::string_view expected) {
  return at(node, field, fmt::format("expected {}, got {}", expected, type_name(node)));
}

struct Entry {
  const toml::key* key;
  const toml::node* node;
};

// toml++ keeps tables sorted by key; problems and services go in file order instead.
std::vector<Entry> in_file_order(const toml::table& table) {
  std::vector<Entry> entries;
  for (auto&& [key, node] : table) entries.push_back({&key, &node});
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    const auto& pa = a.key->source().begin;
    const auto& pb = b.key->source().begin;
    return std::tie(pa.line, pa.column) < std::tie(pb.line, pb.column);
  });
  return entries;
}

Located unknown_key(const toml::key& key, std::string_view table,
                    std::span<const std::string_view> known) {
  std::string message = fmt::format("unknown key '{}' in [{}]", key.str(), table);
  if (auto match = closest_match(key.str(), known)) {
    message += fmt::format("; did you mean '{}'?", *match);
  }
  return Located{key.source().begin, message};
}

constexpr std::string_view kDurationExample = "a duration like 100ms, 10s, 5m or 1h";

constexpr std::array<std::string_view, 21> kServiceKeys{"command",
                                                        "shell",
                                                        "instances",
                                                        "env",
                                                        "cwd",
                                                        "user",
                                                        "restart",
                                                        "restart_delay",
                                                        "restart_backoff",
                                                        "restart_delay_max",
                                                        "min_uptime",
                                                        "circuit_failures",
                                                        "circuit_cooldown",
                                                        "stop_signal",
                                                        "stop_timeout",
                                                        "kill_timeout",
                                                        "ready",
                                                        "startup_timeout",
                                                        "watchdog",
                                                        "output",
                                                        "log_dir"};

// Reads one [service.NAME] table into a ServiceConfig that starts with the defaults.
class ServiceReader {
 public:
  ServiceReader(ServiceConfig& service, const toml::table& table)
      : s_(service), table_(table), path_(service_path(service.name)) {}

  Problem read() {
    if (const toml::node* shell = table_.get("shell")) {  // first: command depends on it
      const auto* flag = shell->as_boolean();
      if (!flag) return wrong_type(*shell, field("shell"), "a boolean");
      shell_ = flag->get();
    }
    for (auto [key, node] : in_file_order(table_)) {
      std::string_view name = key->str();
      if (std::find(kServiceKeys.begin(), kServiceKeys.end(), name) == kServiceKeys.end()) {
        return unknown_key(*key, path_, kServiceKeys);
      }
      seen_[std::string(name)] = node->source().begin;
      if (auto problem = read_value(name, *node)) return problem;
    }
    if (s_.command.empty()) {
      return Located{table_.source().begin, path_ + ": missing required key 'command'"};
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

  Problem read_value(std::string_view key, const toml::node& node) {
    for (const auto& [name, member] : kServiceDurations) {
      if (key == name) return read_duration(key, node, s_.*member);
    }
    if (key == "command") return read_command(node);
    if (key == "shell") return std::nullopt;
    if (key == "instances") return read_integer(key, node, check_instances, s_.instances);
    if (key == "env") return read_env(node);
    if (key == "cwd") return read_string(key, node, s_.cwd);
    if (key == "user") return read_string(key, node, s_.user);
    if (key == "restart") return read_enum(key, node, kRestartPolicyNames, s_.restart);
    if (key == "restart_backoff") return read_backoff(node);
    if (key == "circuit_failures") {
      return read_integer(key, node, check_circuit_failures, s_.circuit_failures);
    }
    if (key == "stop_signal") return read_signal(node);
    if (key == "ready") return read_enum(key, node, kReadyModeNames, s_.ready);
    if (key == "output") return read_enum(key, node, kOutputModeNames, s_.output);
    return read_string(key, node, s_.log_dir);  // the last of kServiceKeys
  }

  Problem read_command(const toml::node& node) {
    if (shell_) {
      const auto* line = node.as_string();
      if (!line) return wrong_type(node, field("command"), "a string (shell = true)");
      if (line->get().empty()) return at(node, field("command"), "expected a shell command");
      if (auto what = check_text(line->get())) return at(node, field("command"), *what);
      s_.command = {"/bin/sh", "-c", line->get()};
      return std::nullopt;
    }
    const auto* array = node.as_array();
    if (!array && node.is_string()) {
      return at(node, field("command"),
                "expected an array of strings, got a string (set shell = true to run it with "
                "/bin/sh -c)");
    }
    if (!array) return wrong_type(node, field("command"), "an array of strings");
    if (auto what = check_command_length(array->size())) return at(node, field("command"), *what);
    for (size_t i = 0; i < array->size(); ++i) {
      const toml::node& element = *array->get(i);
      std::string element_field = field(fmt::format("command[{}]", i));
      const auto* arg = element.as_string();
      if (!arg) return wrong_type(element, element_field, "a string");
      auto what = i == 0 ? check_program(arg->get()) : std::nullopt;
      if (!what) what = check_text(arg->get());
      if (what) return at(element, element_field, *what);
      s_.command.push_back(arg->get());
    }
    return std::nullopt;
  }

  Problem read_env(const toml::node& node) {
    const auto* table = node.as_table();
    if (!table) return wrong_type(node, field("env"), "a table of strings");
    for (auto [key, value] : in_file_order(*table)) {
      if (auto what = check_env_name(key->str())) {
        return Located{key->source().begin, fmt::format("{}: {}", field("env"), *what)};
      }
      std::string value_field = field("env." + path_key(key->str()));
      const auto* text = value->as_string();
      if (!text) return wrong_type(*value, value_field, "a string");
      if (auto what = check_text(text->get())) return at(*value, value_field, *what);
      s_.env[std::string(key->str())] = text->get();
    }
    return std::nullopt;
  }

  Problem read_string(std::string_view key, const toml::node& node, std::string& out) {
    const auto* text = node.as_string();
    if (!text) return wrong_type(node, field(key), "a string");
    if (auto what = check_text(text->get())) return at(node, field(key), *what);
    out = text->get();
    return std::nullopt;
  }

  Problem read_integer(std::string_view key, const toml::node& node,
                       std::optional<std::string> (*check)(int64_t), int& out) {
    const auto* number = node.as_integer();
    if (!number) return wrong_type(node, field(key), "an integer");
    if (auto what = check(number->get())) return at(node, field(key), *what);
    out = static_cast<int>(number->get());  // the check bounds it
    return std::nullopt;
  }

  Problem read_duration(std::string_view key, const toml::node& node, Millis& out) {
    Millis value{0};
    if (const auto* text = node.as_string()) {
      auto parsed = parse_duration(text->get());
      if (!parsed) return at(node, field(key), parsed.error().message);
      value = *parsed;
    } else if (const auto* number = node.as_integer()) {
      if (number->get() != 0) {
        return at(node, field(key),
                  fmt::format("expected {}, got {}", kDurationExample, number->get()));
      }
    } else {
      return wrong_type(node, field(key), kDurationExample);
    }
    if (auto what = check_duration(key, value)) return at(node, field(key), *what);
    out = value;
    return std::nullopt;
  }

  template <class E, size_t N>
  Problem read_enum(std::string_view key, const toml::node& node,
                    const std::array<EnumName<E>, N>& names, E& out) {
    std::string expected = "one of " + enum_choices(names);
    const auto* text = node.as_string();
    if (!text) return wrong_type(node, field(key), expected);
    auto value = enum_from_name(names, text->get());
    if (!value) {
      return at(node, field(key), fmt::format("expected {}, got '{}'", expected, text->get()));
    }
    out = *value;
    return std::nullopt;
  }

  Problem read_backoff(const toml::node& node) {
    double value = 0;
    if (const auto* real = node.as_floating_point()) {
      value = real->get();
    } else if (const auto* integer = node.as_integer()) {
      value = static_cast<double>(integer->get());
    } else {
      return wrong_type(node, field("restart_backoff"), "a number");
    }
    if (auto what = check_restart_backoff(value)) {
      return at(node, field("restart_backoff"), *what);
    }
    s_.restart_backoff = value;
    return std::nullopt;
  }

  Problem read_signal(const toml::node& node) {
    constexpr std::string_view kExpected = "a signal name like SIGINT or SIGTERM";
    if (const auto* text = node.as_string()) {
      auto signo = parse_signal(text->get());
      if (!signo) {
        return at(node, field("stop_signal"),
                  fmt::format("expected {}, got '{}'", kExpected, text->get()));
      }
      s_.stop_signal = *signo;
      return std::nullopt;
    }
    const auto* number = node.as_integer();
    if (!number) return wrong_type(node, field("stop_signal"), kExpected);
    if (auto what = check_signal_number(number->get())) {
      return at(node, field("stop_signal"), *what);
    }
    s_.stop_signal = static_cast<int>(number->get());
    return std::nullopt;
  }

  ServiceConfig& s_;
  const toml::table& table_;
  std::string path_;
  bool shell_ = false;
  std::map<std::string, toml::source_position, std::less<>> seen_;  // key → value position
};

Problem read_supervisor(const toml::node& node, SupervisorConfig& out) {
  static constexpr std::array<std::string_view, 1> kKeys{"state_dir"};
  const auto* table = node.as_table();
  if (!table) return wrong_type(node, "supervisor", "a table");
  for (auto [key, value] : in_file_order(*table)) {
    if (key->str() != "state_dir") return unknown_key(*key, "supervisor", kKeys);
    const auto* text = value->as_string();
    if (!text) return wrong_type(*value, "supervisor.state_dir", "a string");
    if (auto what = check_text(text->get())) return at(*value, "supervisor.state_dir", *what);
    out.state_dir = text->get();
  }
  return std::nullopt;
}

Problem read_services(const toml::node& node, std::vector<ServiceConfig>& out) {
  const auto* table = node.as_table();
  if (!table) return wrong_type(node, "service", "a table");
  for (auto [key, value] : in_file_order(*table)) {
    std::string path = service_path(key->str());
    if (auto what = check_service_name(key->str())) {
      return Located{key->source().begin, fmt::format("{}: {}", path, *what)};
    }
    const auto* service = value->as_table();
    if (!service) return wrong_type(*value, path, "a table");
    ServiceConfig& s = out.emplace_back();
    s.name = key->str();
    if (auto problem = ServiceReader(s, *service).read()) return problem;
  }
  return std::nullopt;
}

Located unknown_top_level(const toml::key& key, const toml::node& node) {
  static constexpr std::array<std::string_view, 2> kKeys{"supervisor", "service"};
  auto match = closest_match(key.str(), kKeys);
  std::string message = node.is_table()
                            ? fmt::format("unknown table [{}]", key.str())
                            : fmt::format("unknown key '{}' at the top level", key.str());
  if (match && node.is_table()) message += fmt::format("; did you mean [{}]?", *match);
  if (match && !node.is_table()) message += fmt::format("; did you mean '{}'?", *match);
  return Located{key.source().begin, message};
}

}  // namespace

Result<Config> parse_config(std::string_view toml_text, const std::string& source_name) {
  toml::table root;
  try {
    root = toml::parse(toml_text, std::string_view(source_name));
  } catch (const toml::parse_error& error) {
    const auto& begin = error.source().begin;
    return Error{fmt::format("{}:{}:{}: TOML syntax error: {}", source_name, begin.line,
                             begin.column, error.description())};
  }
  Config config;
  config.source = source_name;
  for (auto [key, node] : in_file_order(root)) {
    Problem problem;
    if (key->str() == "supervisor") {
      problem = read_supervisor(*node, config.supervisor);
    } else if (key->str() == "service") {
      problem = read_services(*node, config.services);
    } else {
      problem = unknown_top_level(*key, *node);
    }
    if (problem) {
      return Error{fmt::format("{}:{}:{}: {}", source_name, problem->where.line,
                               problem->where.column, problem->message)};
    }
  }
  // Every field was checked above, where its position is known; what is left is the config as a
  // whole ("no services defined").
  if (auto problem = find_config_problem(config)) {
    return Error{fmt::format("{}: {}", source_name, problem->describe())};
  }
  return config;
}

}  // namespace memvisor
