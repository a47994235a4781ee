// Reads the memory keys of a [service.NAME] table (interval, metric, warn, limit, leak, ...) and
// [supervisor] total. A rule is written short ("500MiB") or as a table of its parts.
#pragma once

#include <toml++/toml.h>

#include <array>
#include <optional>
#include <string_view>

#include "core/config/config.h"
#include "core/config/config_toml.h"

namespace memvisor {

inline constexpr std::array<std::string_view, 12> kMemoryKeys{
    "interval", "metric", "tree",     "warn", "limit", "critical",
    "total",    "leak",   "requests", "age",  "surge", "max_recycling"};

// One of kMemoryKeys, of the service whose dotted path is `path` ("service.web").
TomlProblem read_memory_key(std::string_view key, const toml::node& node, std::string_view path,
                            ServiceConfig& service);

// warn, critical, total: "400MiB" or { size = "400MiB", metric = "rss" }. field is the path of
// the key: "service.web.warn", "supervisor.total".
TomlProblem read_size_rule(const toml::node& node, std::string_view field,
                           std::optional<SizeRule>& out);

// Where a message about a size rule's size should point: at `size` inside a table, else the value.
toml::source_position size_position(const toml::node& node);

}  // namespace memvisor
