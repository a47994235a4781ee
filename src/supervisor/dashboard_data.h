// What the dashboard's JSON endpoints serve (/api/series, /api/events, /api/incidents and the
// bundle files under /incidents/), built by the supervisor's loop from what it keeps and handed
// to the HTTP thread as one immutable value, like the metrics snapshot: a request copies a
// pointer and renders, it never reads /proc or waits for the loop.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace memvisor {

struct DashboardEvent {
  uint64_t seq = 0;  // 1, 2, ... in the order the supervisor saw them; restarts with it
  std::string json;  // one events.jsonl record with "seq" added
};

// Large parts are shared between successive values (a publish per sampling round copies
// pointers, not the series).
struct DashboardData {
  std::shared_ptr<const std::string> series_json;  // series_json()'s answer; null until built
  // The latest events, oldest first (at most DashboardFeed::kMaxEvents); shared between data
  // values, replaced (never changed) when an event arrives.
  std::shared_ptr<const std::vector<DashboardEvent>> events;
  struct Incidents {
    std::string json;  // {"incidents": [{"id", "ts", "instance", "trigger", "bytes", "files"}]}
    // The bundles and their files as the store listed them: the only names /incidents/ serves.
    std::map<std::string, std::set<std::string, std::less<>>, std::less<>> files;
  };
  std::shared_ptr<const Incidents> incidents;
  std::string incidents_dir;
};

}  // namespace memvisor
