// Whether an executable was built by the Go toolchain, so `memvisor sample` on a Go worker without
// a pprof endpoint says what it needs at once instead of waiting on a native sampler that Go's own
// allocator never calls.
#pragma once

#include <string>

namespace memvisor {

// True when the ELF file at `path` (e.g. /proc/PID/exe) has the section the Go linker writes into
// every executable since Go 1.13 (.go.buildinfo, the module and build settings), or the older
// build-id note (.note.go.buildid). Stripping keeps both. False for anything unreadable.
bool is_go_executable(const std::string& path);

}  // namespace memvisor
