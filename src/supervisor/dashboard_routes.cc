#include "supervisor/dashboard_routes.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <charconv>
#include <nlohmann/json.hpp>

#include "core/incident/incident_id.h"
#include "os/unique_fd.h"
#include "supervisor/web_assets.h"

namespace memvisor {
namespace {

HttpResponse dashboard_json(unsigned status, std::string body) {
  return {status, "application/json", std::move(body), {}};
}

HttpResponse dashboard_not_found() {
  return {404, "text/plain; charset=utf-8", "not found\n", {}};
}

std::string_view bundle_file_type(std::string_view name) {
  if (name.ends_with(".svg")) return "image/svg+xml";
  if (name.ends_with(".json")) return "application/json";
  // summary.txt, memory.csv, smaps_top.txt, status.txt, stacks.txt: shown as text by a browser.
  if (name.ends_with(".txt") || name.ends_with(".csv")) return "text/plain; charset=utf-8";
  return "application/octet-stream";
}

// The file of a listed bundle, opened without following a link (a bundle holds only regular
// files memvisor wrote), bounded in size.
HttpResponse bundle_file(const DashboardData& data, std::string_view id, std::string_view name) {
  const std::string path = data.incidents_dir + "/" + std::string(id) + "/" + std::string(name);
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  struct stat info {};
  if (fd.get() < 0 || ::fstat(fd.get(), &info) != 0 || !S_ISREG(info.st_mode))
    return dashboard_not_found();
  if (static_cast<uint64_t>(info.st_size) > kMaxBundleFileBytes) {
    return {413, "text/plain; charset=utf-8", "file too large to serve; read it on the host\n", {}};
  }
  std::string body(static_cast<size_t>(info.st_size), '\0');
  size_t got = 0;
  while (got < body.size()) {
    const ssize_t n = ::read(fd.get(), body.data() + got, body.size() - got);
    if (n <= 0) break;
    got += static_cast<size_t>(n);
  }
  body.resize(got);
  return {200, std::string(bundle_file_type(name)), std::move(body), kBundleFileCsp};
}

// /incidents/ID/FILE: only an id the store listed and a file name its bundle holds; anything
// else (an unknown id, "..", an encoded slash, a hidden file) is not found.
HttpResponse incident_file(const DashboardData* data, std::string_view rest) {
  const size_t slash = rest.find('/');
  if (data == nullptr || slash == std::string_view::npos) return dashboard_not_found();
  const std::string_view id = rest.substr(0, slash);
  const std::string_view name = rest.substr(slash + 1);
  if (!is_valid_incident_id(id) || !is_bundle_file_name(name)) return dashboard_not_found();
  if (!data->incidents) return dashboard_not_found();
  const auto bundle = data->incidents->files.find(id);
  if (bundle == data->incidents->files.end() || !bundle->second.contains(name)) {
    return dashboard_not_found();
  }
  return bundle_file(*data, id, name);
}

// {"events": [...newer than `after`...], "last": the newest seq}. A client whose `after` is past
// "last" (the supervisor restarted and counts from 1 again) starts over from 0.
HttpResponse events_after(const DashboardData* data, std::string_view after_text) {
  uint64_t after = 0;
  if (!after_text.empty()) {
    const auto [end, error] =
        std::from_chars(after_text.data(), after_text.data() + after_text.size(), after);
    if (error != std::errc{} || end != after_text.data() + after_text.size()) {
      return {400, "text/plain; charset=utf-8", "after: a non-negative integer\n", {}};
    }
  }
  std::string body = "{\"events\":[";
  uint64_t last = 0;
  if (data != nullptr && data->events) {
    bool first = true;
    for (const DashboardEvent& event : *data->events) {
      last = event.seq;
      if (event.seq <= after) continue;
      if (!first) body += ',';
      body += event.json;
      first = false;
    }
  }
  body += "],\"last\":" + std::to_string(last) + "}\n";
  return dashboard_json(200, std::move(body));
}

}  // namespace

bool is_bundle_file_name(std::string_view name) {
  if (name.empty() || name.size() > 100 || name.front() == '.') return false;
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::optional<HttpResponse> dashboard_response(const DashboardData* data, std::string_view path,
                                               std::string_view after) {
  for (const WebAsset& asset : web_assets()) {
    if (asset.path == path) {
      return HttpResponse{200, std::string(asset.content_type), std::string(asset.body), {}};
    }
  }
  if (path == "/api/series") {
    // Built on the supervisor's next round once a page asks; until then no series yet, and a
    // 200 (a browser logs every error status in its console).
    if (data == nullptr || !data->series_json) {
      return dashboard_json(200, "{\"ok\":true,\"pending\":true,\"series\":[]}\n");
    }
    return dashboard_json(200, *data->series_json);
  }
  if (path == "/api/events") return events_after(data, after);
  if (path == "/api/incidents") {
    if (data == nullptr || !data->incidents) {
      return dashboard_json(503, "{\"error\":\"starting up\"}\n");
    }
    return dashboard_json(200, data->incidents->json);
  }
  constexpr std::string_view kIncidents = "/incidents/";
  if (path.starts_with(kIncidents)) return incident_file(data, path.substr(kIncidents.size()));
  return std::nullopt;
}

}  // namespace memvisor
