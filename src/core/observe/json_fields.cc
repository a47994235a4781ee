#include "core/observe/json_fields.h"

#include <limits>

namespace memvisor {

std::string string_field(const nlohmann::json& object, std::string_view key, std::string fallback) {
  if (!object.is_object()) return fallback;
  const auto found = object.find(key);
  if (found == object.end() || !found->is_string()) return fallback;
  return found->get<std::string>();
}

int64_t integer_field(const nlohmann::json& object, std::string_view key, int64_t fallback) {
  if (!object.is_object()) return fallback;
  const auto found = object.find(key);
  if (found == object.end()) return fallback;
  if (found->is_number_unsigned()) {  // is_number_integer() holds for these too: asked first
    const uint64_t n = found->get<uint64_t>();
    return n <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) ? static_cast<int64_t>(n)
                                                                           : fallback;
  }
  return found->is_number_integer() ? found->get<int64_t>() : fallback;
}

}  // namespace memvisor
