// Positions, type names and file order for messages about a TOML config.
#include "core/config/config_toml.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <tuple>

#include "core/config/closest_match.h"

namespace memvisor {

Located located_at(const toml::node& node, std::string_view field, std::string_view what) {
  return Located{node.source().begin, fmt::format("{}: {}", field, what)};
}

Located wrong_type(const toml::node& node, std::string_view field, std::string_view expected) {
  return located_at(node, field, fmt::format("expected {}, got {}", expected, type_name(node)));
}

std::string_view type_name(const toml::node& node) {
  static constexpr std::array<std::pair<toml::node_type, std::string_view>, 9> kNames{{
      {toml::node_type::table, "a table"},
      {toml::node_type::array, "an array"},
      {toml::node_type::string, "a string"},
      {toml::node_type::integer, "an integer"},
      {toml::node_type::floating_point, "a float"},
      {toml::node_type::boolean, "a boolean"},
      {toml::node_type::date, "a date"},
      {toml::node_type::time, "a time"},
      {toml::node_type::date_time, "a date-time"},
  }};
  for (const auto& [type, name] : kNames) {
    if (type == node.type()) return name;
  }
  return "nothing";
}

std::vector<TomlEntry> in_file_order(const toml::table& table) {
  std::vector<TomlEntry> entries;
  for (auto&& [key, node] : table) entries.push_back({&key, &node});
  std::sort(entries.begin(), entries.end(), [](const TomlEntry& a, const TomlEntry& b) {
    const auto& pa = a.key->source().begin;
    const auto& pb = b.key->source().begin;
    return std::tie(pa.line, pa.column) < std::tie(pb.line, pb.column);
  });
  return entries;
}

namespace {

// where: "[service.web]" or "service.web.limit".
Located unknown_key_at(const toml::key& key, std::string_view where,
                       std::span<const std::string_view> known) {
  std::string message = fmt::format("unknown key '{}' in {}", key.str(), where);
  if (auto match = closest_match(key.str(), known)) {
    message += fmt::format("; did you mean '{}'?", *match);
  }
  return Located{key.source().begin, message};
}

}  // namespace

Located unknown_key(const toml::key& key, std::string_view table,
                    std::span<const std::string_view> known) {
  return unknown_key_at(key, fmt::format("[{}]", table), known);
}

Located unknown_key(const toml::key& key, const toml::table& table, std::string_view path,
                    std::span<const std::string_view> known) {
  // An inline table has no [header] to recognise, so it is named by its dotted path.
  if (table.is_inline()) return unknown_key_at(key, path, known);
  return unknown_key(key, path, known);
}

}  // namespace memvisor
