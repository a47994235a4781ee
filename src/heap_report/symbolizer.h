// From a return address in the sampled process to module, function and file:line. The real one
// reads the ELF files and their DWARF with libdwfl (elfutils), outside the worker.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "heap_report/proc_maps.h"

struct Dwfl;

namespace memvisor {

struct SourceFrame {
  std::string module;    // file name of the shared object or executable; "?" if unknown
  std::string function;  // demangled; "?" if unknown
  // Source file, "" if no line information. Code inlined from a system header (a std::string
  // built in place) has the line in the program's own source that called it, when there is one.
  std::string file;
  int line = 0;
};

// A header of the compiler's or the C library's (/usr/include, /usr/lib/gcc): where libstdc++'s
// containers and strings are written, and so the source of their template instances.
bool is_system_header(const std::string& file);

class Symbolizer {
 public:
  virtual ~Symbolizer() = default;
  virtual SourceFrame resolve(uint64_t return_address) = 0;
};

class DwarfSymbolizer : public Symbolizer {
 public:
  // `maps`: the process's mappings when the samples were taken.
  explicit DwarfSymbolizer(std::vector<MapEntry> maps);
  ~DwarfSymbolizer() override;
  DwarfSymbolizer(const DwarfSymbolizer&) = delete;
  DwarfSymbolizer& operator=(const DwarfSymbolizer&) = delete;

  SourceFrame resolve(uint64_t return_address) override;

 private:
  std::vector<MapEntry> maps_;
  Dwfl* dwfl_ = nullptr;
  std::unordered_map<uint64_t, SourceFrame> cache_;
};

// "_ZN3foo3barEv" -> "foo::bar()"; unchanged when not a mangled name.
std::string demangle(const char* name);

}  // namespace memvisor
