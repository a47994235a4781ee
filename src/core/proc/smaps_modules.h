// /proc/PID/smaps grouped by what each mapping belongs to: the heap, the stacks, anonymous
// memory, each shared library or mapped file, the vdso. Pure: text in, sums out.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace memvisor {

enum class ModuleKind { heap, stack, anonymous, file, kernel };
std::string_view to_string(ModuleKind kind);

struct ModuleMemory {
  std::string name;  // "[heap]", "[stack]", "[anonymous]", "[anon:name]", a path, "[vdso]"
  ModuleKind kind = ModuleKind::anonymous;
  uint32_t mappings = 0;
  uint64_t size = 0;  // virtual, bytes
  uint64_t rss = 0;
  uint64_t pss = 0;
  uint64_t private_bytes = 0;  // Private_Clean + Private_Dirty
  uint64_t swap = 0;
};

// Every module, largest RSS first (ties by name). nullopt when the text has no mapping or a
// mapping's header or a known key is malformed.
std::optional<std::vector<ModuleMemory>> parse_smaps_by_module(std::string_view text);

// A table of the `top` largest modules and one line for the rest and the total:
//   MODULE  KIND  MAPPINGS  RSS  PSS  PRIVATE  SWAP
std::string format_smaps_top(const std::vector<ModuleMemory>& modules, size_t top);

}  // namespace memvisor
