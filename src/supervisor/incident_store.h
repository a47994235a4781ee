// The incident bundles on disk, for the control socket and retention: list them, show one, and
// delete the oldest beyond the configured count or size.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "core/result.h"

namespace memvisor {

struct IncidentListing {
  std::string id;
  std::string ts;        // from incident.json
  std::string instance;  // "web.1"
  std::string trigger;   // critical | leak | dump
  uint64_t bytes = 0;    // all of its files
};

// Every bundle, oldest first (ids sort by time). Temp dirs and other files are skipped.
std::vector<IncidentListing> list_incidents(const std::string& incidents_dir);
nlohmann::json to_json(const IncidentListing& listing);
// Every bundle as to_json gives it, oldest first: the `incidents` answer and its CLI.
nlohmann::json incidents_json(const std::string& incidents_dir);

// {"id", "path", "summary", "incident" (incident.json), "files": [{"name", "bytes"}]}.
Result<nlohmann::json> show_incident(const std::string& incidents_dir, const std::string& id);

// Deletes the temp dirs of bundles whose writer died mid-write (".tmp-ID-PID", PID gone).
void remove_abandoned_bundles(const std::string& incidents_dir);

// Deletes the oldest bundles beyond `keep` or `max_bytes`; returns the ids deleted.
std::vector<std::string> enforce_incident_retention(const std::string& incidents_dir, size_t keep,
                                                    uint64_t max_bytes);

}  // namespace memvisor
