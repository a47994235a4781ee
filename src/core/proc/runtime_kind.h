// Which heap sampler a process gets: the runtime it runs, told from its executable and mappings
// (pure: the caller reads them), or the one a service forces with heap_sampler = "NAME".
#pragma once

#include <optional>
#include <string_view>

namespace memvisor {

enum class RuntimeKind { native, node, python, jvm, ruby, go };

std::string_view runtime_name(RuntimeKind kind);
// "native", "node", "python", "jvm", "ruby", "go"; nothing for any other text.
std::optional<RuntimeKind> parse_runtime_kind(std::string_view name);

// Pure: the runtime of a process from the path of its executable and its /proc/PID/maps text.
// node/nodejs, python3.X, java and ruby by name, else by the runtime's own shared library
// (libjvm.so, libpython3.X.so, libruby.so, libnode.so) for embedders; else native. A Go binary
// is told by its sections (detect_runtime), not here.
RuntimeKind runtime_from_process(std::string_view exe_path, std::string_view maps);

// Pure: a command interpreter (sh, dash, bash, zsh, ksh, ash, busybox) by its executable's path.
// A service run through `sh -c` without exec has one as its instance, the program as its child.
bool is_shell_executable(std::string_view exe_path);

}  // namespace memvisor
