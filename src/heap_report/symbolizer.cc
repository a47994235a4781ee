// libdwfl in offline mode: each object of the sampled process is reported at its load address,
// so the raw return addresses resolve directly.
#include "heap_report/symbolizer.h"

#include <cxxabi.h>
#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>

#include <cstdlib>

namespace memvisor {
namespace {

char* debuginfo_path = nullptr;
const Dwfl_Callbacks kOfflineCallbacks = {
    dwfl_build_id_find_elf,
    dwfl_standard_find_debuginfo,
    dwfl_offline_section_address,
    &debuginfo_path,
};

std::string base_name(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// When the line of `pc` is in a system header, code inlined from it (a std::string built, a
// vector grown): the line in the program's own source that called it, from the inlined scopes'
// DW_AT_call_file and DW_AT_call_line, innermost first. Unchanged when there is no such line.
void call_site_outside_system_headers(Dwfl_Module* module, uint64_t pc, SourceFrame& frame) {
  Dwarf_Addr bias = 0;
  Dwarf_Die* unit = dwfl_module_addrdie(module, pc, &bias);
  if (unit == nullptr) return;
  // dwarf_getscopes goes from an inlined scope to its abstract origin's parents (the class and
  // namespace it was written in); the nesting in this function is the innermost scope's parents.
  Dwarf_Die* scopes = nullptr;
  int count = dwarf_getscopes(unit, pc - bias, &scopes);
  if (count > 0) {
    Dwarf_Die innermost = scopes[0];
    free(scopes);
    scopes = nullptr;
    count = dwarf_getscopes_die(&innermost, &scopes);
  }
  Dwarf_Files* files = nullptr;
  size_t file_count = 0;
  if (count > 0 && dwarf_getsrcfiles(unit, &files, &file_count) == 0) {
    for (int i = 0; i < count && is_system_header(frame.file); ++i) {
      if (dwarf_tag(&scopes[i]) != DW_TAG_inlined_subroutine) continue;
      Dwarf_Attribute attribute;
      Dwarf_Word file_index = 0, line = 0;
      if (dwarf_formudata(dwarf_attr(&scopes[i], DW_AT_call_file, &attribute), &file_index) != 0 ||
          dwarf_formudata(dwarf_attr(&scopes[i], DW_AT_call_line, &attribute), &line) != 0 ||
          file_index >= file_count)
        break;
      const char* file = dwarf_filesrc(files, file_index, nullptr, nullptr);
      if (file == nullptr) break;
      frame.file = file;
      frame.line = static_cast<int>(line);
    }
  }
  free(scopes);
}

}  // namespace

bool is_system_header(const std::string& file) {
  return file.starts_with("/usr/include/") || file.starts_with("/usr/lib/gcc/");
}

std::string demangle(const char* name) {
  if (name == nullptr) return "?";
  int status = 0;
  char* readable = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  if (status != 0 || readable == nullptr) return name;
  std::string out(readable);
  std::free(readable);
  return out;
}

DwarfSymbolizer::DwarfSymbolizer(std::vector<MapEntry> maps) : maps_(std::move(maps)) {
  dwfl_ = dwfl_begin(&kOfflineCallbacks);
  if (dwfl_ == nullptr) return;
  dwfl_report_begin(dwfl_);
  for (const LoadedObject& object : loaded_objects(maps_)) {
    // Objects that are gone or unreadable are skipped: their frames keep the module name only.
    dwfl_report_elf(dwfl_, base_name(object.path).c_str(), object.path.c_str(), -1, object.base,
                    false);
  }
  dwfl_report_end(dwfl_, nullptr, nullptr);
}

DwarfSymbolizer::~DwarfSymbolizer() {
  if (dwfl_ != nullptr) dwfl_end(dwfl_);
}

SourceFrame DwarfSymbolizer::resolve(uint64_t return_address) {
  if (auto cached = cache_.find(return_address); cached != cache_.end()) return cached->second;
  SourceFrame frame{"?", "?", "", 0};
  // A return address points after the call; the call itself is one byte before.
  const uint64_t pc = return_address == 0 ? 0 : return_address - 1;
  if (const MapEntry* mapping = find_mapping(maps_, pc)) {
    frame.module = mapping->path.empty() ? "[anonymous]" : base_name(mapping->path);
  }
  Dwfl_Module* module = dwfl_ == nullptr ? nullptr : dwfl_addrmodule(dwfl_, pc);
  if (module != nullptr) {
    if (const char* name = dwfl_module_addrname(module, pc)) frame.function = demangle(name);
    if (Dwfl_Line* line = dwfl_module_getsrc(module, pc)) {
      int lineno = 0;
      if (const char* file = dwfl_lineinfo(line, nullptr, &lineno, nullptr, nullptr, nullptr)) {
        frame.file = file;
        frame.line = lineno;
        if (is_system_header(frame.file)) call_site_outside_system_headers(module, pc, frame);
      }
    }
  }
  cache_.emplace(return_address, frame);
  return frame;
}

}  // namespace memvisor
