// The supervisor's side of the dashboard: the latest events (as they reach the supervisor, from
// the controller and from its own rules), the incident bundles as the store lists them (read again
// only when a bundle was written), and the series when a page watches; turned into the immutable
// DashboardData the HTTP thread serves.
#pragma once

#include <deque>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>

#include "supervisor/dashboard_data.h"

namespace memvisor {

class DashboardFeed {
 public:
  // Events kept for /api/events: a page polling every 2 s misses none short of a burst this big.
  static constexpr size_t kMaxEvents = 200;

  explicit DashboardFeed(std::string incidents_dir) : incidents_dir_(std::move(incidents_dir)) {}

  // The events memvisor logged before this supervisor started (the last lines of events.jsonl,
  // read once), so a page opened after a supervisor restart still shows what just happened.
  void seed_from_log(const std::string& events_path);
  // One event as events.jsonl has it (a controller message's "type" and "state" are dropped).
  void add_event(nlohmann::json event);
  // A bundle was written or removed: the listing is read again on the next build.
  void incidents_changed() { incidents_stale_ = true; }

  // What the HTTP thread serves now. `series_json`: empty keeps the series built last.
  std::shared_ptr<const DashboardData> build(std::string series_json);
  // Nobody asked for the series lately, so they are no longer built: the ones kept would be
  // served as if current. Dropped, the next request gets `pending` and the one after fresh data.
  void drop_series() { series_json_.reset(); }

 private:
  void refresh_incidents();

  std::string incidents_dir_;
  std::deque<DashboardEvent> events_;
  uint64_t next_seq_ = 1;
  std::shared_ptr<const std::vector<DashboardEvent>> events_shared_;  // null: events_ changed
  bool incidents_stale_ = true;
  std::shared_ptr<const DashboardData::Incidents> incidents_;
  std::shared_ptr<const std::string> series_json_;
};

}  // namespace memvisor
