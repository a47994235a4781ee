// Reads typed values at JSON paths for config_from_json, checking every type itself so that no
// nlohmann exception escapes. The first error is kept; later reads still run but change nothing.
#pragma once

#include <fmt/format.h>

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config/config.h"
#include "core/config/config_names.h"

namespace memvisor {

class JsonReader {
 public:
  using json = nlohmann::json;

  const std::optional<std::string>& error() const { return error_; }

  // Whether j is an object with exactly these keys.
  bool object(const json& j, std::string_view path, const std::vector<std::string>& keys);

  void read(const json& j, std::string_view path, std::string& out);
  void read(const json& j, std::string_view path, int64_t& out);
  void read(const json& j, std::string_view path, uint64_t& out);
  void read(const json& j, std::string_view path, int& out);
  void read(const json& j, std::string_view path, double& out);
  void read(const json& j, std::string_view path, bool& out);
  void read(const json& j, std::string_view path, Millis& out);
  void read_signal(const json& j, std::string_view path, int& out);

  template <class E, size_t N>
  void read(const json& j, std::string_view path, const std::array<EnumName<E>, N>& names, E& out) {
    std::optional<E> value;
    if (j.is_string()) value = enum_from_name(names, j.get<std::string>());
    if (!value) {
      fail(path, fmt::format("expected one of {}, got {}", enum_choices(names), j.dump()));
      return;
    }
    out = *value;
  }

  // null for an empty optional; otherwise read like the value itself.
  template <class E, size_t N>
  void read(const json& j, std::string_view path, const std::array<EnumName<E>, N>& names,
            std::optional<E>& out) {
    if (j.is_null()) {
      out.reset();
      return;
    }
    read(j, path, names, out.emplace());
  }

  // Whether ok; if not, reports that j is not what was expected.
  bool expect(bool ok, const json& j, std::string_view path, std::string_view expected);
  // Reports `what` at `path` (the first problem wins); false.
  bool fail(std::string_view path, std::string what);

 private:
  std::optional<std::string> error_;
};

}  // namespace memvisor
