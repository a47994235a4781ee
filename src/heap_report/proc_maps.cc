// Parsing /proc/PID/maps: "start-end perms offset dev inode   path".
#include "heap_report/proc_maps.h"

#include <algorithm>
#include <charconv>
#include <set>

namespace memvisor {
namespace {

bool parse_hex(std::string_view text, uint64_t& out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out, 16);
  return ec == std::errc() && end == text.data() + text.size();
}

std::string_view next_field(std::string_view& line) {
  const size_t begin = line.find_first_not_of(' ');
  if (begin == std::string_view::npos) {
    line = {};
    return {};
  }
  line.remove_prefix(begin);
  const size_t end = std::min(line.find(' '), line.size());
  const std::string_view field = line.substr(0, end);
  line.remove_prefix(end);
  return field;
}

}  // namespace

std::vector<MapEntry> parse_proc_maps(std::string_view text) {
  std::vector<MapEntry> maps;
  while (!text.empty()) {
    const size_t newline = std::min(text.find('\n'), text.size());
    std::string_view line = text.substr(0, newline);
    text.remove_prefix(std::min(newline + 1, text.size()));
    const std::string_view range = next_field(line);
    const std::string_view perms = next_field(line);
    const std::string_view offset = next_field(line);
    next_field(line);  // device
    next_field(line);  // inode
    const size_t dash = range.find('-');
    MapEntry entry;
    if (dash == std::string_view::npos || perms.size() < 4 ||
        !parse_hex(range.substr(0, dash), entry.start) ||
        !parse_hex(range.substr(dash + 1), entry.end) || !parse_hex(offset, entry.offset))
      continue;
    entry.executable = perms[2] == 'x';
    const size_t path = line.find_first_not_of(' ');
    if (path != std::string_view::npos) entry.path = std::string(line.substr(path));
    maps.push_back(std::move(entry));
  }
  return maps;
}

const MapEntry* find_mapping(const std::vector<MapEntry>& maps, uint64_t address) {
  auto after = std::upper_bound(maps.begin(), maps.end(), address,
                                [](uint64_t a, const MapEntry& m) { return a < m.start; });
  if (after == maps.begin()) return nullptr;
  const MapEntry& candidate = *(after - 1);
  return address < candidate.end ? &candidate : nullptr;
}

std::vector<LoadedObject> loaded_objects(const std::vector<MapEntry>& maps) {
  std::vector<LoadedObject> objects;
  std::set<std::string> seen;
  for (const MapEntry& m : maps) {
    if (m.offset != 0 || m.path.empty() || m.path[0] != '/') continue;
    if (!seen.insert(m.path).second) continue;
    objects.push_back({m.path, m.start});
  }
  return objects;
}

}  // namespace memvisor
