// Typed values from TOML nodes. Durations and sizes are strings with units; the messages repeat
// what was written so that the mistake is visible on its own.
#include "core/config/config_toml_values.h"

#include <fmt/format.h>

#include "core/units.h"

namespace memvisor {

TomlProblem read_duration_value(const toml::node& node, std::string_view field, Millis& out) {
  if (const auto* text = node.as_string()) {
    auto parsed = parse_duration(text->get());
    if (!parsed) return located_at(node, field, parsed.error().message);
    out = *parsed;
    return std::nullopt;
  }
  if (const auto* number = node.as_integer()) {
    // 0 is the same in every unit; any other bare number would be a guess at the unit.
    if (number->get() != 0) {
      return located_at(node, field,
                        fmt::format("expected {}, got {}", kDurationExample, number->get()));
    }
    out = Millis{0};
    return std::nullopt;
  }
  return wrong_type(node, field, kDurationExample);
}

TomlProblem read_size_value(const toml::node& node, std::string_view field, uint64_t& out) {
  if (const auto* number = node.as_integer()) {
    return located_at(
        node, field,
        fmt::format("expected a size like 500MiB, got {} — write the unit", number->get()));
  }
  const auto* text = node.as_string();
  if (!text) return wrong_type(node, field, kSizeExample);
  auto parsed = parse_size(text->get());
  if (!parsed) return located_at(node, field, parsed.error().message);
  out = *parsed;
  return std::nullopt;
}

TomlProblem read_rate_value(const toml::node& node, std::string_view field, uint64_t& out) {
  const auto* text = node.as_string();
  if (!text) return wrong_type(node, field, kRateExample);
  auto parsed = parse_rate(text->get());
  if (!parsed) return located_at(node, field, parsed.error().message);
  out = *parsed;
  return std::nullopt;
}

TomlProblem read_integer_value(const toml::node& node, std::string_view field, int64_t& out) {
  const auto* number = node.as_integer();
  if (!number) return wrong_type(node, field, "an integer");
  out = number->get();
  return std::nullopt;
}

TomlProblem read_boolean_value(const toml::node& node, std::string_view field, bool& out) {
  const auto* flag = node.as_boolean();
  if (!flag) return wrong_type(node, field, "a boolean");
  out = flag->get();
  return std::nullopt;
}

}  // namespace memvisor
