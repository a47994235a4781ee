#include "supervisor/incident_store.h"

#include "core/observe/unit_name.h"

#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <filesystem>

#include "core/incident/incident_report.h"
#include "core/incident/incident_retention.h"
#include "core/observe/json_fields.h"
#include "os/files.h"

namespace memvisor {
namespace {

namespace fs = std::filesystem;

uint64_t directory_bytes(const fs::path& dir) {
  uint64_t total = 0;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(dir, error)) {
    std::error_code size_error;
    if (entry.is_regular_file(size_error)) {
      const auto size = entry.file_size(size_error);
      if (!size_error) total += size;
    }
  }
  return total;
}

}  // namespace

std::vector<IncidentListing> list_incidents(const std::string& incidents_dir) {
  std::vector<IncidentListing> out;
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(incidents_dir, error)) {
    std::error_code type_error;
    const std::string id = entry.path().filename().string();
    if (!entry.is_directory(type_error) || !is_valid_incident_id(id)) continue;
    IncidentListing listing;
    listing.id = id;
    listing.bytes = directory_bytes(entry.path());
    if (auto text = read_file(entry.path().string() + "/incident.json")) {
      auto json = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
      // Read back from disk: a field of the wrong type is absent, never an exception (a bundle
      // edited by hand aborted the supervisor at every listing, every new bundle's retention
      // pass and, with http on, at its start).
      listing.ts = string_field(json, "ts");
      listing.trigger = string_field(json, "trigger");
      if (const std::string service = string_field(json, "service"); !service.empty()) {
        listing.instance = unit_name(service, static_cast<int>(integer_field(json, "instance")),
                                     static_cast<int>(integer_field(json, "child")));
      }
    }
    out.push_back(std::move(listing));
  }
  std::sort(out.begin(), out.end(),
            [](const IncidentListing& a, const IncidentListing& b) { return a.id < b.id; });
  return out;
}

nlohmann::json to_json(const IncidentListing& listing) {
  return {{"id", listing.id},
          {"ts", listing.ts},
          {"instance", listing.instance},
          {"trigger", listing.trigger},
          {"bytes", listing.bytes}};
}

nlohmann::json incidents_json(const std::string& incidents_dir) {
  nlohmann::json list = nlohmann::json::array();
  for (const IncidentListing& listing : list_incidents(incidents_dir))
    list.push_back(to_json(listing));
  return list;
}

Result<nlohmann::json> show_incident(const std::string& incidents_dir, const std::string& id) {
  if (!is_valid_incident_id(id)) return Error{"no incident '" + id + "'"};
  const fs::path dir = fs::path(incidents_dir) / id;
  std::error_code error;
  if (!fs::is_directory(dir, error)) return Error{"no incident '" + id + "'"};
  nlohmann::json files = nlohmann::json::array();
  std::vector<fs::directory_entry> entries;
  for (const auto& entry : fs::directory_iterator(dir, error)) entries.push_back(entry);
  std::sort(entries.begin(), entries.end());
  for (const auto& entry : entries) {
    std::error_code size_error;
    const auto size = entry.is_regular_file(size_error) ? entry.file_size(size_error) : 0;
    files.push_back({{"name", entry.path().filename().string()}, {"bytes", size}});
  }
  auto summary = read_file((dir / "summary.txt").string());
  nlohmann::json incident = nullptr;
  if (auto text = read_file((dir / "incident.json").string())) {
    incident = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (incident.is_discarded()) incident = nullptr;
  }
  return nlohmann::json{{"id", id},
                        {"path", dir.string()},
                        {"summary", summary ? *summary : "(no summary.txt)\n"},
                        {"incident", incident},
                        {"files", files}};
}

void remove_abandoned_bundles(const std::string& incidents_dir) {
  std::error_code error;
  for (const auto& entry : fs::directory_iterator(incidents_dir, error)) {
    const std::string name = entry.path().filename().string();
    const size_t dash = name.rfind('-');
    if (!name.starts_with(".tmp-") || dash == std::string::npos) continue;
    const long pid = std::strtol(name.c_str() + dash + 1, nullptr, 10);
    if (pid > 0 && (::kill(static_cast<pid_t>(pid), 0) == 0 || errno == EPERM)) continue;
    std::error_code ignored;
    fs::remove_all(entry.path(), ignored);
  }
}

std::vector<std::string> enforce_incident_retention(const std::string& incidents_dir, size_t keep,
                                                    uint64_t max_bytes) {
  std::vector<BundleSize> sizes;
  for (const IncidentListing& listing : list_incidents(incidents_dir)) {
    sizes.push_back({listing.id, listing.bytes});
  }
  std::vector<std::string> removed;
  for (const std::string& id : expired_bundles(std::move(sizes), keep, max_bytes)) {
    std::error_code error;
    fs::remove_all(fs::path(incidents_dir) / id, error);
    if (!error) removed.push_back(id);
  }
  return removed;
}

}  // namespace memvisor
