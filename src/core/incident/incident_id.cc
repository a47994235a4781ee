#include "core/incident/incident_id.h"

#include <fmt/format.h>

#include <algorithm>

namespace memvisor {

std::string incident_id(WallTime time, const std::string& service, int instance,
                        const std::string& trigger, int child) {
  // "2026-11-22T16:40:01.123Z" → "20261122-164001"
  const std::string iso = format_rfc3339(time);
  std::string compact;
  for (char c : iso.substr(0, 19)) {
    if (c == 'T') {
      compact.push_back('-');
    } else if (c != '-' && c != ':') {
      compact.push_back(c);
    }
  }
  if (child > 0) return fmt::format("{}-{}.{}_{}-{}", compact, service, instance, child, trigger);
  return fmt::format("{}-{}.{}-{}", compact, service, instance, trigger);
}

bool is_valid_incident_id(std::string_view id) {
  if (id.empty() || id.size() > 200 || id.front() == '.') return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}

}  // namespace memvisor
