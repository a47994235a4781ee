#include "supervisor/dashboard_feed.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>

#include "supervisor/incident_store.h"

namespace memvisor {
namespace {

// The last `bytes` of a file (whole lines only): a bounded read however large the log grew.
std::string read_log_tail(const std::string& path, off_t bytes) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return {};
  const off_t size = ::lseek(fd, 0, SEEK_END);
  const off_t start = std::max<off_t>(0, size - bytes);
  std::string text(static_cast<size_t>(size - start), '\0');
  const ssize_t got = ::pread(fd, text.data(), text.size(), start);
  ::close(fd);
  text.resize(got > 0 ? static_cast<size_t>(got) : 0);
  if (start > 0) {
    const size_t newline = text.find('\n');
    text.erase(0, newline == std::string::npos ? text.size() : newline + 1);
  }
  return text;
}

}  // namespace

void DashboardFeed::seed_from_log(const std::string& events_path) {
  const std::string text = read_log_tail(events_path, 64 * 1024);
  size_t at = 0;
  while (at < text.size()) {
    size_t end = text.find('\n', at);
    if (end == std::string::npos) end = text.size();
    auto event = nlohmann::json::parse(text.substr(at, end - at), nullptr, false);
    if (event.is_object()) add_event(std::move(event));
    at = end + 1;
  }
}

void DashboardFeed::add_event(nlohmann::json event) {
  event.erase("type");
  event.erase("state");
  event["seq"] = next_seq_;
  events_.push_back({next_seq_++, event.dump()});
  while (events_.size() > kMaxEvents) events_.pop_front();
  events_shared_.reset();
}

void DashboardFeed::refresh_incidents() {
  incidents_stale_ = false;
  auto incidents = std::make_shared<DashboardData::Incidents>();
  nlohmann::json list = nlohmann::json::array();
  for (const IncidentListing& listing : list_incidents(incidents_dir_)) {
    nlohmann::json entry = to_json(listing);
    nlohmann::json files = nlohmann::json::array();
    auto& names = incidents->files[listing.id];
    if (auto shown = show_incident(incidents_dir_, listing.id)) {
      for (const auto& file : (*shown)["files"]) {
        names.insert(file.value("name", ""));
        files.push_back(file);
      }
    }
    entry["files"] = std::move(files);
    list.push_back(std::move(entry));
  }
  // Newest first: the page lists the latest at the top.
  std::reverse(list.begin(), list.end());
  incidents->json = nlohmann::json{{"incidents", std::move(list)}}.dump() + "\n";
  incidents_ = std::move(incidents);
}

std::shared_ptr<const DashboardData> DashboardFeed::build(std::string series_json) {
  if (incidents_stale_) refresh_incidents();
  if (!events_shared_) {
    events_shared_ =
        std::make_shared<const std::vector<DashboardEvent>>(events_.begin(), events_.end());
  }
  if (!series_json.empty()) {
    series_json_ = std::make_shared<const std::string>(std::move(series_json));
  }
  auto data = std::make_shared<DashboardData>();
  data->series_json = series_json_;
  data->events = events_shared_;
  data->incidents = incidents_;
  data->incidents_dir = incidents_dir_;
  return data;
}

}  // namespace memvisor
