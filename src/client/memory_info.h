// The `memory_info` diagnostics answer: glibc's own view of the heap (malloc_info's XML and
// mallinfo2's counters), which /proc cannot give (free chunks, arenas, fragmentation).
#pragma once

#include <nlohmann/json.hpp>

namespace memvisor::client {

// {"malloc_info": "<malloc ...>", "mallinfo2": {"arena": ..., ...}}; fields glibc lacks are left
// out.
nlohmann::json memory_info();

}  // namespace memvisor::client
