// Incident ids: "20261122-193012-web.1-leak", sortable by time, then the instance and the
// trigger; also the name of the bundle's directory.
#pragma once

#include <string>
#include <string_view>

#include "core/time_format.h"

namespace memvisor {

// A pre-fork child's (`child` its pid) reads "20261122-193012-web.1_12345-limit": an id names
// no path, so the unit's slash becomes '_'.
std::string incident_id(WallTime time, const std::string& service, int instance,
                        const std::string& trigger, int child = 0);
// Letters, digits, '-', '_' and '.', not starting with '.', at most 200 bytes: so an id sent by a
// client can name no other path (no '/', no "..") and temp dirs (".tmp-…") are never ids.
bool is_valid_incident_id(std::string_view id);

}  // namespace memvisor
