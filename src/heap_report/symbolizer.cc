// libdwfl in offline mode: each object of the sampled process is reported at its load address,
// so the raw return addresses resolve directly.
#include "heap_report/symbolizer.h"

#include <cxxabi.h>
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

}  // namespace

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
      }
    }
  }
  cache_.emplace(return_address, frame);
  return frame;
}

}  // namespace memvisor
