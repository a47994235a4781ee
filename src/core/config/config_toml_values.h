// Reading one value of a known kind (duration, size, rate, enum, ...) from a TOML node, with the
// message for a wrong type or a malformed string. Range checks are the caller's.
#pragma once

#include <toml++/toml.h>

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/config/config.h"
#include "core/config/config_names.h"
#include "core/config/config_toml.h"

namespace memvisor {

inline constexpr std::string_view kDurationExample = "a duration like 100ms, 10s, 5m or 1h";
inline constexpr std::string_view kSizeExample = "a size like 500MiB, 2GB or 1.5GiB";
inline constexpr std::string_view kRateExample = "a rate like 10MiB/h, 1MiB/min or 100KiB/s";

// field is the dotted path put in messages: "service.web.limit.size".
TomlProblem read_duration_value(const toml::node& node, std::string_view field, Millis& out);
// A plain integer is refused with a hint: it would be bytes, and nobody means 500 bytes.
TomlProblem read_size_value(const toml::node& node, std::string_view field, uint64_t& out);
TomlProblem read_rate_value(const toml::node& node, std::string_view field, uint64_t& out);
TomlProblem read_integer_value(const toml::node& node, std::string_view field, int64_t& out);
TomlProblem read_boolean_value(const toml::node& node, std::string_view field, bool& out);

template <class E, size_t N>
TomlProblem read_enum_value(const toml::node& node, std::string_view field,
                            const std::array<EnumName<E>, N>& names, E& out) {
  std::string expected = "one of " + enum_choices(names);
  const auto* text = node.as_string();
  if (!text) return wrong_type(node, field, expected);
  auto value = enum_from_name(names, text->get());
  if (!value)
    return located_at(node, field, "expected " + expected + ", got '" + text->get() + "'");
  out = *value;
  return std::nullopt;
}

}  // namespace memvisor
