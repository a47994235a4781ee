// A process's environment as /proc/PID/environ holds it: "KEY=VALUE" entries, each ended by a
// NUL. Pure text, no syscalls.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace memvisor {

// The value of `key` in `environ` (the first entry, as getenv would find it), or nullopt.
std::optional<std::string> environ_value(std::string_view environ, std::string_view key);

}  // namespace memvisor
