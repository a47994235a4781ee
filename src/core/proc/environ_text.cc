#include "core/proc/environ_text.h"

#include <algorithm>

namespace memvisor {

std::optional<std::string> environ_value(std::string_view environ, std::string_view key) {
  for (size_t at = 0; at < environ.size();) {
    const size_t end = std::min(environ.find('\0', at), environ.size());
    const std::string_view entry = environ.substr(at, end - at);
    if (entry.size() > key.size() && entry.substr(0, key.size()) == key && entry[key.size()] == '=')
      return std::string(entry.substr(key.size() + 1));
    at = end + 1;
  }
  return std::nullopt;
}

}  // namespace memvisor
