// Putting the runtimes' samplers into a worker's environment.
#include "runtimes/runtime_environment.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>

namespace memvisor {
namespace {

// KEY=VALUE: `value` joined to the current value with `separator` (first or last), or set.
void join_env(std::vector<std::string>& env, const std::string& key, const std::string& value,
              const std::string& separator, bool prepend) {
  const std::string prefix = key + "=";
  for (std::string& entry : env) {
    if (entry.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string current = entry.substr(prefix.size());
    if (current.find(value) != std::string::npos) return;
    if (current.empty()) {
      entry = prefix + value;
    } else {
      entry = prefix + (prepend ? value + separator + current : current + separator + value);
    }
    return;
  }
  env.push_back(prefix + value);
}

bool wants(std::optional<RuntimeKind> only, RuntimeKind kind) {
  return !only || *only == kind;
}

}  // namespace

std::string find_agents_dir(const std::string& self_executable) {
  auto usable = [](const std::filesystem::path& dir) {
    return access((dir / "python" / "sitecustomize.py").c_str(), R_OK) == 0;
  };
  if (const char* forced = std::getenv("MEMVISOR_AGENTS_DIR"); forced && *forced)
    return usable(forced) ? forced : "";
  std::error_code error;
  const auto bin = std::filesystem::weakly_canonical(self_executable, error).parent_path();
  const std::filesystem::path candidates[] = {
      bin.parent_path() / MEMVISOR_INSTALL_DATADIR / "memvisor" / "agents",
      std::filesystem::path(MEMVISOR_INSTALL_FULL_DATADIR) / "memvisor" / "agents",
      std::filesystem::path(MEMVISOR_SOURCE_AGENTS_DIR),
  };
  for (const auto& dir : candidates)
    if (usable(dir)) return dir.string();
  return "";
}

void add_runtime_environment(std::vector<std::string>& env, std::optional<RuntimeKind> only,
                             const std::string& agents_dir) {
  // Loopback and a port of the kernel's choice, so instances never collide; the inspector
  // itself opens only when `memvisor sample` sends SIGUSR1. publish-uid=http keeps Node from
  // printing "Debugger listening on ws://..." to the worker's stderr at each sample.
  if (wants(only, RuntimeKind::node))
    join_env(env, "NODE_OPTIONS", "--inspect-port=127.0.0.1:0 --inspect-publish-uid=http", " ",
             false);
  if (agents_dir.empty()) return;
  if (wants(only, RuntimeKind::python))
    join_env(env, "PYTHONPATH", agents_dir + "/python", ":", true);
  if (wants(only, RuntimeKind::ruby))
    join_env(env, "RUBYOPT", "-r" + agents_dir + "/ruby/memvisor_heap_agent.rb", " ", false);
}

}  // namespace memvisor
