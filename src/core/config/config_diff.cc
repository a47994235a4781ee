#include "core/config/config_diff.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>

#include "core/config/config_json.h"

namespace memvisor {
namespace {

using nlohmann::json;

// The keys whose change means new processes: they shape what a spawn gets (argv, environment,
// credentials, inherited sockets, where its output goes, what is preloaded, its cgroup, the
// readiness protocol it is told to speak). Everything else is read when it is used.
constexpr std::array kSpawnKeys = {
    "command",        "env",           "cwd",          "user",           "listen",
    "listen_backlog", "listen_mode",   "listen_owner", "ready",          "output",
    "log_dir",        "heap_sampler",  "heap_runtime", "cgroup",         "prefork",
    "watchdog_ms",    "oom_score_adj", "memory_max",   "memory_max_auto"};

bool is_spawn_key(const std::string& key) {
  return std::find(kSpawnKeys.begin(), kSpawnKeys.end(), key) != kSpawnKeys.end();
}

// "stop_timeout_ms" reads as the file's "stop_timeout".
std::string file_key(std::string key) {
  if (key.ends_with("_ms")) key.resize(key.size() - 3);
  return key;
}

// A member, or null. (contains/at: GCC 12 warns falsely on value() inside unity batches.)
json member(const json& object, const std::string& key) {
  return object.is_object() && object.contains(key) ? object.at(key) : json();
}

std::string name_of(const json& service) {
  const json name = member(service, "name");
  return name.is_string() ? name.get<std::string>() : "";
}

int count_of(const json& service) {
  const json count = member(service, "instances");
  return count.is_number_integer() ? count.get<int>() : 0;
}

const json* find_service(const json& services, const std::string& name) {
  for (const json& service : services) {
    if (name_of(service) == name) return &service;
  }
  return nullptr;
}

}  // namespace

std::string_view to_string(ServiceChange::Kind kind) {
  switch (kind) {
    case ServiceChange::Kind::added:
      return "added";
    case ServiceChange::Kind::removed:
      return "removed";
    case ServiceChange::Kind::rolled:
      return "rolled";
    case ServiceChange::Kind::rules:
      return "rules";
    case ServiceChange::Kind::instances:
      return "instances";
  }
  return "?";
}

Result<ConfigChanges> diff_configs(const Config& before, const Config& after) {
  // The JSON form is lossless and names every field the way the file does, so one walk over
  // its keys compares every setting, including ones added to the model later.
  const json old_json = config_to_json(before);
  const json new_json = config_to_json(after);
  ConfigChanges changes;

  const json old_supervisor = member(old_json, "supervisor");
  const json new_supervisor = member(new_json, "supervisor");
  if (member(old_supervisor, "state_dir") != member(new_supervisor, "state_dir")) {
    return Error{fmt::format(
        "supervisor.state_dir: cannot change while memvisor runs (it holds its sockets, lock and "
        "events there): {} → {}; restart memvisor to move it",
        member(old_supervisor, "state_dir").dump(), member(new_supervisor, "state_dir").dump())};
  }
  for (const auto& [key, value] : new_supervisor.items()) {
    if (member(old_supervisor, key) != value) changes.supervisor.push_back(key);
  }

  const json old_services = member(old_json, "services");
  const json new_services = member(new_json, "services");
  for (const json& service : new_services) {
    const std::string name = name_of(service);
    const int count = count_of(service);
    const json* old_service = find_service(old_services, name);
    if (old_service == nullptr) {
      changes.services.push_back({name, ServiceChange::Kind::added, {}, 0, count});
      continue;
    }
    std::vector<std::string> spawn;
    std::vector<std::string> rules;
    for (const auto& [key, value] : service.items()) {
      if (key == "name" || key == "instances") continue;
      const json old_value = member(*old_service, key);
      if (old_value == value) continue;
      if (is_spawn_key(key)) {
        spawn.push_back(file_key(key));
      } else if (key == "memory" && value.is_object() && old_value.is_object()) {
        for (const auto& [rule, setting] : value.items()) {
          if (member(old_value, rule) != setting) rules.push_back("memory." + file_key(rule));
        }
      } else {
        rules.push_back(file_key(key));
      }
    }
    const int old_count = count_of(*old_service);
    if (!spawn.empty()) {
      changes.services.push_back({name, ServiceChange::Kind::rolled, spawn, 0, 0});
    }
    if (!rules.empty()) {
      changes.services.push_back({name, ServiceChange::Kind::rules, rules, 0, 0});
    }
    if (old_count != count) {
      changes.services.push_back(
          {name, ServiceChange::Kind::instances, {"instances"}, old_count, count});
    }
  }
  for (const json& service : old_services) {
    const std::string name = name_of(service);
    if (find_service(new_services, name) == nullptr) {
      changes.services.push_back({name, ServiceChange::Kind::removed, {}, count_of(service), 0});
    }
  }
  return changes;
}

std::string what_changed(const ServiceChange& change) {
  switch (change.kind) {
    case ServiceChange::Kind::added:
      return fmt::format("added, starting {} instance(s)", change.instances_after);
    case ServiceChange::Kind::removed:
      return fmt::format("removed, stopping {} instance(s)", change.instances_before);
    case ServiceChange::Kind::rolled:
      return fmt::format("{} changed, replacing every instance", fmt::join(change.fields, ", "));
    case ServiceChange::Kind::rules:
      return fmt::format("{} changed, applied at once", fmt::join(change.fields, ", "));
    case ServiceChange::Kind::instances:
      return fmt::format("instances {} → {}", change.instances_before, change.instances_after);
  }
  return "changed";
}

std::string describe(const ServiceChange& change) {
  return change.service + ": " + what_changed(change);
}

}  // namespace memvisor
