// /proc/PID/maps lines as plain values, and the lookup from an address to its mapping.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace memvisor {

struct MapEntry {
  uint64_t start = 0;
  uint64_t end = 0;
  uint64_t offset = 0;
  bool executable = false;
  std::string path;  // "" for anonymous memory; "[heap]", "[stack]", ... as the kernel says
};

// Pure; malformed lines are skipped.
std::vector<MapEntry> parse_proc_maps(std::string_view text);

// The mapping containing `address`, or nullptr. `maps` sorted by start, as the kernel lists them.
const MapEntry* find_mapping(const std::vector<MapEntry>& maps, uint64_t address);

// Where each file-backed object was loaded: the start of its mapping at file offset 0.
struct LoadedObject {
  std::string path;
  uint64_t base = 0;
};
std::vector<LoadedObject> loaded_objects(const std::vector<MapEntry>& maps);

}  // namespace memvisor
