// Strict typed reads from JSON: integers must fit, numbers must be numbers, nothing is coerced.
#include "core/config/config_json_reader.h"

#include <algorithm>
#include <limits>

#include "core/units.h"

namespace memvisor {

bool JsonReader::object(const json& j, std::string_view path,
                        const std::vector<std::string>& keys) {
  if (!j.is_object()) return fail(path, fmt::format("expected an object, got {}", j.type_name()));
  for (const auto& [key, value] : j.items()) {
    if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
      return fail(path, fmt::format("unknown key '{}'", key));
    }
  }
  for (const std::string& key : keys) {
    if (!j.contains(key)) return fail(path, fmt::format("missing key '{}'", key));
  }
  return true;
}

void JsonReader::read(const json& j, std::string_view path, std::string& out) {
  if (expect(j.is_string(), j, path, "a string")) out = j.get<std::string>();
}

void JsonReader::read(const json& j, std::string_view path, int64_t& out) {
  bool fits = j.is_number_integer() &&
              (!j.is_number_unsigned() ||
               j.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()));
  if (!fits) {
    fail(path, fmt::format("expected a 64-bit integer, got {}", j.dump()));
    return;
  }
  out = j.get<int64_t>();
}

void JsonReader::read(const json& j, std::string_view path, uint64_t& out) {
  // Parsed text gives unsigned for every non-negative integer; a json built in code may not.
  bool fits = j.is_number_unsigned() || (j.is_number_integer() && j.get<int64_t>() >= 0);
  if (!fits) {
    fail(path, fmt::format("expected an unsigned 64-bit integer, got {}", j.dump()));
    return;
  }
  out = j.get<uint64_t>();
}

void JsonReader::read(const json& j, std::string_view path, int& out) {
  int64_t wide = 0;
  read(j, path, wide);
  if (wide < std::numeric_limits<int>::min() || wide > std::numeric_limits<int>::max()) {
    fail(path, fmt::format("expected a 32-bit integer, got {}", wide));
  }
  out = static_cast<int>(wide);
}

void JsonReader::read(const json& j, std::string_view path, double& out) {
  if (expect(j.is_number(), j, path, "a number")) out = j.get<double>();
}

void JsonReader::read(const json& j, std::string_view path, bool& out) {
  if (expect(j.is_boolean(), j, path, "a boolean")) out = j.get<bool>();
}

void JsonReader::read(const json& j, std::string_view path, Millis& out) {
  int64_t ms = 0;
  read(j, path, ms);
  out = Millis{ms};
}

void JsonReader::read_signal(const json& j, std::string_view path, int& out) {
  if (!j.is_string()) return read(j, path, out);
  auto signo = parse_signal(j.get<std::string>());
  if (!signo) {
    fail(path, fmt::format("expected a signal name, got {}", j.dump()));
    return;
  }
  out = *signo;
}

bool JsonReader::expect(bool ok, const json& j, std::string_view path, std::string_view expected) {
  if (!ok) fail(path, fmt::format("expected {}, got {}", expected, j.type_name()));
  return ok;
}

bool JsonReader::fail(std::string_view path, std::string what) {
  if (!error_) error_ = fmt::format("{}: {}", path, what);
  return false;
}

}  // namespace memvisor
