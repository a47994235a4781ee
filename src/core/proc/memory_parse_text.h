// Internal to the memory parsers: line iteration and strict number parsing of kernel text files
// (/proc and cgroupfs), shared by memory_parse.cc and memory_parse_cgroup.cc.
#pragma once

#include <charconv>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace memvisor::memory_text {

inline std::string_view trim(std::string_view text) {
  const size_t start = text.find_first_not_of(" \t\n");
  if (start == std::string_view::npos) return {};
  const size_t end = text.find_last_not_of(" \t\n");
  return text.substr(start, end - start + 1);
}

// Calls fn(line) for every line of `text`, without its '\n'.
template <class Fn>
void for_each_line(std::string_view text, Fn&& fn) {
  while (!text.empty()) {
    const size_t end = text.find('\n');
    fn(text.substr(0, end));
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
}

// The whole of `text` as a number: no sign, no spaces, no trailing characters.
template <class T>
std::optional<T> parse_number(std::string_view text) {
  T value{};
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (text.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

inline std::optional<uint64_t> parse_u64(std::string_view text) {
  return parse_number<uint64_t>(text);
}

// "1768 kB" (as /proc prints sizes) → bytes. Anything else, or a product past 2^64, is malformed.
inline std::optional<uint64_t> parse_kb(std::string_view text) {
  constexpr std::string_view kUnit = "kB";
  if (text.size() <= kUnit.size() || text.substr(text.size() - kUnit.size()) != kUnit) {
    return std::nullopt;
  }
  const auto kb = parse_u64(trim(text.substr(0, text.size() - kUnit.size())));
  if (!kb || *kb > UINT64_MAX / 1024) return std::nullopt;
  return *kb * 1024;
}

// Calls fn(key, value) for every "Key:   value" line (smaps_rollup, status, meminfo), the value
// trimmed. Lines without a ':' (the rollup's address header) are skipped.
template <class Fn>
void for_each_colon_field(std::string_view text, Fn&& fn) {
  for_each_line(text, [&fn](std::string_view line) {
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos) return;
    fn(line.substr(0, colon), trim(line.substr(colon + 1)));
  });
}

// A flat-keyed cgroup file ("anon 1234" lines): every line whose value is a number. Lines that are
// not "key number" are left out, so a required key that is malformed reads as missing.
using FlatKeyed = std::map<std::string, uint64_t, std::less<>>;

inline FlatKeyed parse_flat_keyed(std::string_view text) {
  FlatKeyed values;
  for_each_line(text, [&values](std::string_view line) {
    line = trim(line);
    const size_t space = line.find_first_of(" \t");
    if (space == std::string_view::npos) return;
    const auto value = parse_u64(trim(line.substr(space)));
    if (value) values.insert_or_assign(std::string(line.substr(0, space)), *value);
  });
  return values;
}

// Copies values[key] into `out`; false when the key is missing.
inline bool take(const FlatKeyed& values, std::string_view key, uint64_t& out) {
  const auto it = values.find(key);
  if (it == values.end()) return false;
  out = it->second;
  return true;
}

}  // namespace memvisor::memory_text
