// The spawn-time setup that makes a worker's runtime sampleable, inert until a sample is asked:
// the inspector port for Node, the agents for Python and Ruby. The JVM and Go need none.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "core/proc/runtime_kind.h"

namespace memvisor {

// The directory holding the agents (python/sitecustomize.py, ruby/memvisor_heap_agent.rb):
// $MEMVISOR_AGENTS_DIR, else the source tree's agents/ for a build-tree memvisor, else the
// installed share/memvisor/agents. "" when none exists.
std::string find_agents_dir(const std::string& self_executable);

// `env` (KEY=VALUE entries) with the setup for `only` (nothing: every runtime, since the
// executable may be a shell or a launcher) appended to what the service already set:
//   NODE_OPTIONS  += --inspect-port=127.0.0.1:0 --inspect-publish-uid=http
//   PYTHONPATH     = AGENTS/python:PYTHONPATH
//   RUBYOPT       += -rAGENTS/ruby/memvisor_heap_agent.rb
void add_runtime_environment(std::vector<std::string>& env, std::optional<RuntimeKind> only,
                             const std::string& agents_dir);

}  // namespace memvisor
