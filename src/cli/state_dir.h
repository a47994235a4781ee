// Where a memvisor keeps its sockets, events.jsonl and incidents, unless told otherwise.
#pragma once

#include <string>

namespace memvisor {

// --state-dir, else $MEMVISOR_STATE_DIR, else the configured one, else the default: /run/memvisor
// for root, $XDG_RUNTIME_DIR/memvisor or /tmp/memvisor-UID for other users. Made absolute.
std::string resolve_state_dir(const std::string& flag, const std::string& configured = "");
std::string default_state_dir();

}  // namespace memvisor
