// TOML → Config: the top level, [supervisor] and the list of services, in file order. Each
// [service.NAME] table is read by config_service_table.
#include "core/config/config_parse.h"

#include <fmt/format.h>

#include <array>
#include <string_view>
#include <vector>

#include "core/config/closest_match.h"
#include "core/config/config_memory_table.h"
#include "core/config/config_pressure.h"
#include "core/config/config_service_table.h"
#include "core/config/config_toml.h"
#include "core/config/config_toml_values.h"
#include "core/config/config_validate.h"
#include "core/config/config_validate_listen.h"
#include "core/config/config_validate_memory.h"
#include "core/config/listen_address.h"

namespace memvisor {
namespace {

TomlProblem read_supervisor(const toml::node& node, SupervisorConfig& out) {
  static constexpr std::array<std::string_view, 10> kKeys{
      "state_dir",  "total",           "http",        "incidents_keep", "incidents_max_size",
      "log_format", "events_max_size", "events_keep", "oom_score_adj",  "pressure"};
  const auto* table = node.as_table();
  if (!table) return wrong_type(node, "supervisor", "a table");
  for (auto [key, value] : in_file_order(*table)) {
    if (key->str() == "total") {
      if (auto problem = read_size_rule(*value, "supervisor.total", out.total)) return problem;
      continue;
    }
    if (key->str() == "http") {
      const auto* text = value->as_string();
      if (!text) return wrong_type(*value, "supervisor.http", "a string like \"127.0.0.1:9464\"");
      auto address = parse_listen_address(text->get());
      if (!address) return located_at(*value, "supervisor.http", address.error().message);
      out.http = to_string(*address);
      continue;
    }
    if (key->str() == "incidents_keep") {
      int64_t keep = 0;
      if (auto problem = read_integer_value(*value, "supervisor.incidents_keep", keep)) {
        return problem;
      }
      if (auto what = check_incidents_keep(keep)) {
        return located_at(*value, "supervisor.incidents_keep", *what);
      }
      out.incidents_keep = static_cast<int>(keep);
      continue;
    }
    if (key->str() == "oom_score_adj") {
      int64_t adj = 0;
      if (auto problem = read_integer_value(*value, "supervisor.oom_score_adj", adj)) {
        return problem;
      }
      if (auto what = check_oom_score_adj(adj)) {
        return located_at(*value, "supervisor.oom_score_adj", *what);
      }
      out.oom_score_adj = static_cast<int>(adj);
      continue;
    }
    if (key->str() == "pressure") {
      if (auto problem = read_pressure(*value, "supervisor.pressure", out.pressure)) return problem;
      continue;
    }
    if (key->str() == "incidents_max_size") {
      const char* field = "supervisor.incidents_max_size";
      if (auto problem = read_size_value(*value, field, out.incidents_max_size)) return problem;
      if (auto what = check_size(out.incidents_max_size)) return located_at(*value, field, *what);
      continue;
    }
    if (key->str() == "events_max_size") {  // "0": never rotated
      if (auto problem = read_size_value(*value, "supervisor.events_max_size", out.events_max_size))
        return problem;
      continue;
    }
    if (key->str() == "events_keep") {
      int64_t keep = 0;
      if (auto problem = read_integer_value(*value, "supervisor.events_keep", keep)) return problem;
      if (auto what = check_log_keep(keep)) {
        return located_at(*value, "supervisor.events_keep", *what);
      }
      out.events_keep = static_cast<int>(keep);
      continue;
    }
    if (key->str() == "log_format") {
      const auto* text = value->as_string();
      if (!text) return wrong_type(*value, "supervisor.log_format", "\"text\" or \"json\"");
      if (text->get() != "text" && text->get() != "json") {
        return located_at(*value, "supervisor.log_format",
                          "expected \"text\" or \"json\", got '" + text->get() + "'");
      }
      out.log_format = text->get();
      continue;
    }
    if (key->str() != "state_dir") return unknown_key(*key, "supervisor", kKeys);
    const auto* text = value->as_string();
    if (!text) return wrong_type(*value, "supervisor.state_dir", "a string");
    if (auto what = check_text(text->get())) {
      return located_at(*value, "supervisor.state_dir", *what);
    }
    out.state_dir = text->get();
  }
  return std::nullopt;
}

TomlProblem read_services(const toml::node& node, std::vector<ServiceConfig>& out) {
  const auto* table = node.as_table();
  if (node.is_array()) {  // [[service]] with a name key is a common guess at the format
    return located_at(node, "service", "expected [service.NAME] tables, got an array of tables");
  }
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
    if (auto problem = read_service_table(*service, s)) return problem;
    if (auto conflict = find_listen_conflict(s, out, out.size() - 1)) {
      // At the element, or at the single string.
      const toml::node* listen = service->get("listen");
      const toml::array* array = listen->as_array();
      if (!array) return located_at(*listen, path + ".listen", conflict->what);
      return located_at(*array->get(conflict->index),
                        fmt::format("{}.listen[{}]", path, conflict->index), conflict->what);
    }
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
    TomlProblem problem;
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
