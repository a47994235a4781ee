#include "core/proc/smaps_modules.h"

#include <algorithm>
#include <map>

#include "core/proc/memory_parse_text.h"
#include "core/text_table.h"
#include "core/units.h"

namespace memvisor {
namespace {

using memory_text::parse_kb;
using memory_text::trim;

// "7f2a1c000000-7f2a1c021000" : two hex numbers joined by '-'.
bool is_address_range(std::string_view token) {
  const size_t dash = token.find('-');
  if (dash == std::string_view::npos || dash == 0 || dash + 1 == token.size()) return false;
  return std::all_of(token.begin(), token.end(), [](char c) {
    return c == '-' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
  });
}

// The header "ADDR PERMS OFFSET DEV INODE [PATH]": the path starts after the fifth field and may
// itself contain spaces ("/tmp/my file (deleted)").
std::optional<std::string_view> mapping_path(std::string_view line) {
  std::string_view rest = line;
  for (int field = 0; field < 5; ++field) {
    rest = rest.substr(std::min(rest.size(), rest.find_first_not_of(' ')));
    const size_t end = rest.find(' ');
    if (rest.empty()) return std::nullopt;
    if (field == 0 && !is_address_range(rest.substr(0, end))) return std::nullopt;
    rest = end == std::string_view::npos ? std::string_view{} : rest.substr(end);
  }
  return trim(rest);
}

struct Group {
  std::string name;
  ModuleKind kind;
};

Group group_of(std::string_view path) {
  if (path.empty()) return {"[anonymous]", ModuleKind::anonymous};
  if (path == "[heap]") return {"[heap]", ModuleKind::heap};
  // "[stack]", and "[stack:TID]" on kernels before 4.5.
  if (path.starts_with("[stack")) return {"[stack]", ModuleKind::stack};
  if (path.starts_with("[anon")) return {std::string(path), ModuleKind::anonymous};  // [anon:name]
  if (path.starts_with("[")) return {std::string(path), ModuleKind::kernel};  // vdso, vvar, ...
  return {std::string(path), ModuleKind::file};
}

}  // namespace

std::string_view to_string(ModuleKind kind) {
  switch (kind) {
    case ModuleKind::heap:
      return "heap";
    case ModuleKind::stack:
      return "stack";
    case ModuleKind::anonymous:
      return "anonymous";
    case ModuleKind::file:
      return "file";
    case ModuleKind::kernel:
      return "kernel";
  }
  return "?";
}

std::optional<std::vector<ModuleMemory>> parse_smaps_by_module(std::string_view text) {
  std::map<std::string, ModuleMemory> modules;
  ModuleMemory* current = nullptr;
  bool malformed = false;
  memory_text::for_each_line(text, [&](std::string_view line) {
    if (malformed || trim(line).empty()) return;
    const size_t colon = line.find(':');
    const size_t space = line.find(' ');
    // A key line is "Key:   value"; a header's first token has no colon before its space.
    if (colon != std::string_view::npos && (space == std::string_view::npos || colon < space)) {
      if (current == nullptr) {
        malformed = true;
        return;
      }
      const std::string_view key = line.substr(0, colon);
      uint64_t* field = key == "Size"            ? &current->size
                        : key == "Rss"           ? &current->rss
                        : key == "Pss"           ? &current->pss
                        : key == "Private_Clean" ? &current->private_bytes
                        : key == "Private_Dirty" ? &current->private_bytes
                        : key == "Swap"          ? &current->swap
                                                 : nullptr;
      if (field == nullptr) return;
      const auto bytes = parse_kb(trim(line.substr(colon + 1)));
      if (!bytes) {
        malformed = true;
        return;
      }
      *field += *bytes;
      return;
    }
    const auto path = mapping_path(line);
    if (!path) {
      malformed = true;
      return;
    }
    Group group = group_of(*path);
    ModuleMemory& module = modules[group.name];
    module.name = std::move(group.name);
    module.kind = group.kind;
    ++module.mappings;
    current = &module;
  });
  if (malformed || modules.empty()) return std::nullopt;
  std::vector<ModuleMemory> out;
  for (auto& [name, module] : modules) out.push_back(std::move(module));
  std::stable_sort(out.begin(), out.end(),
                   [](const ModuleMemory& a, const ModuleMemory& b) { return a.rss > b.rss; });
  return out;
}

std::string format_smaps_top(const std::vector<ModuleMemory>& modules, size_t top) {
  TextTable table({"MODULE", "KIND", "MAPPINGS", "RSS", "PSS", "PRIVATE", "SWAP"});
  ModuleMemory rest{
      "(" + std::to_string(modules.size() > top ? modules.size() - top : 0) + " more)",
      ModuleKind::file};
  ModuleMemory total{"(total)", ModuleKind::file};
  auto add = [&](const ModuleMemory& m, std::string_view kind) {
    table.add_row({m.name, std::string(kind), std::to_string(m.mappings), format_size(m.rss),
                   format_size(m.pss), format_size(m.private_bytes), format_size(m.swap)});
  };
  auto accumulate = [](ModuleMemory& into, const ModuleMemory& m) {
    into.mappings += m.mappings;
    into.rss += m.rss;
    into.pss += m.pss;
    into.private_bytes += m.private_bytes;
    into.swap += m.swap;
  };
  for (size_t i = 0; i < modules.size(); ++i) {
    if (i < top) {
      add(modules[i], to_string(modules[i].kind));
    } else {
      accumulate(rest, modules[i]);
    }
    accumulate(total, modules[i]);
  }
  if (modules.size() > top) add(rest, "");
  add(total, "");
  return table.render();
}

}  // namespace memvisor
