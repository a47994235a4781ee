// What the config reader needs from toml++ beyond parsing: a problem with its position, type
// names for messages, entries in file order, and "unknown key" with a suggestion.
#pragma once

#include <toml++/toml.h>

#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace memvisor {

// A problem and where it is. message is "FIELD: what" or a whole sentence ("unknown key ...").
struct Located {
  toml::source_position where;
  std::string message;
};
using TomlProblem = std::optional<Located>;

// "FIELD: what" at the node's position.
Located located_at(const toml::node& node, std::string_view field, std::string_view what);

// "FIELD: expected EXPECTED, got a string" at the node's position.
Located wrong_type(const toml::node& node, std::string_view field, std::string_view expected);

// "a string", "an integer", "a table", ...
std::string_view type_name(const toml::node& node);

struct TomlEntry {
  const toml::key* key;
  const toml::node* node;
};

// toml++ keeps a table sorted by key; this gives its entries in the order of the file.
std::vector<TomlEntry> in_file_order(const toml::table& table);

// "unknown key 'instnces' in [service.web]; did you mean 'instances'?" at the key.
Located unknown_key(const toml::key& key, std::string_view table,
                    std::span<const std::string_view> known);

// The same inside a rule's table, which is usually inline: "unknown key 'fro' in
// service.web.limit; did you mean 'for'?" ("in [service.web.limit]" for a table of its own).
Located unknown_key(const toml::key& key, const toml::table& table, std::string_view path,
                    std::span<const std::string_view> known);

}  // namespace memvisor
