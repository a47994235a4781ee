// Telling the runtime of a process from its executable's name and its mappings.
#include "core/proc/runtime_kind.h"

#include <array>
#include <initializer_list>
#include <utility>

namespace memvisor {
namespace {

constexpr std::array<std::pair<RuntimeKind, std::string_view>, 6> kNames{{
    {RuntimeKind::native, "native"},
    {RuntimeKind::node, "node"},
    {RuntimeKind::python, "python"},
    {RuntimeKind::jvm, "jvm"},
    {RuntimeKind::ruby, "ruby"},
    {RuntimeKind::go, "go"},
}};

std::string_view base_name(std::string_view path) {
  const size_t slash = path.rfind('/');
  std::string_view name = slash == std::string_view::npos ? path : path.substr(slash + 1);
  // A replaced executable reads "/usr/bin/node (deleted)".
  if (const size_t space = name.find(' '); space != std::string_view::npos)
    name = name.substr(0, space);
  return name;
}

bool starts_with_version(std::string_view name, std::string_view stem) {
  if (!name.starts_with(stem)) return false;
  for (char c : name.substr(stem.size()))
    if (!(c == '.' || (c >= '0' && c <= '9'))) return false;
  return true;
}

// A mapping of a shared object whose file name begins with `stem` (libjvm.so, libpython3.11.so.1).
bool maps_library(std::string_view maps, std::string_view stem) {
  size_t at = 0;
  while ((at = maps.find(stem, at)) != std::string_view::npos) {
    if (at > 0 && maps[at - 1] == '/') return true;
    at += stem.size();
  }
  return false;
}

}  // namespace

std::string_view runtime_name(RuntimeKind kind) {
  for (const auto& [k, name] : kNames)
    if (k == kind) return name;
  return "native";
}

std::optional<RuntimeKind> parse_runtime_kind(std::string_view name) {
  for (const auto& [kind, text] : kNames)
    if (text == name) return kind;
  return std::nullopt;
}

RuntimeKind runtime_from_process(std::string_view exe_path, std::string_view maps) {
  const std::string_view name = base_name(exe_path);
  if (name == "node" || name == "nodejs") return RuntimeKind::node;
  if (starts_with_version(name, "python")) return RuntimeKind::python;
  if (name == "java") return RuntimeKind::jvm;
  if (starts_with_version(name, "ruby")) return RuntimeKind::ruby;
  if (maps_library(maps, "libjvm.so")) return RuntimeKind::jvm;
  if (maps_library(maps, "libnode.so")) return RuntimeKind::node;
  if (maps_library(maps, "libpython3")) return RuntimeKind::python;
  if (maps_library(maps, "libruby")) return RuntimeKind::ruby;
  return RuntimeKind::native;
}

bool is_shell_executable(std::string_view exe_path) {
  const std::string_view name = base_name(exe_path);
  for (std::string_view shell : {"sh", "dash", "bash", "zsh", "ksh", "mksh", "ash", "busybox"})
    if (name == shell) return true;
  return false;
}

}  // namespace memvisor
