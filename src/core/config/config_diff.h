// What a reload changes: the differences between the running config and a new one, sorted into
// what memvisor can apply in place (rules and settings read when they are used), what needs the
// service's processes replaced (anything that shapes a spawn: command, environment, sockets…),
// instance counts, and services added or removed. Pure: the controller acts on the result.
#pragma once

#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/result.h"

namespace memvisor {

struct ServiceChange {
  enum class Kind {
    added,      // a new service: its instances start
    removed,    // gone from the file: its instances stop gracefully
    rolled,     // a spawn setting changed: every instance is recycled (surge, max_recycling)
    rules,      // rules or settings changed: applied at once, no process replaced
    instances,  // the instance count changed: instances start or stop
  };
  std::string service;
  Kind kind = Kind::rules;
  std::vector<std::string> fields;  // what changed, by config key ("command", "memory.limit")
  int instances_before = 0;         // for `instances`, `added` and `removed`
  int instances_after = 0;
};

std::string_view to_string(ServiceChange::Kind kind);

struct ConfigChanges {
  std::vector<ServiceChange> services;  // in the new file's order, removed ones last
  std::vector<std::string> supervisor;  // [supervisor] keys applied at once ("http", "total")
  bool empty() const { return services.empty() && supervisor.empty(); }
};

// The changes from `before` to `after`, or why the new config cannot be applied without a
// restart of memvisor itself (a different state_dir).
Result<ConfigChanges> diff_configs(const Config& before, const Config& after);

// One line per change, for the CLI: "web: command changed, replacing every instance".
std::string describe(const ServiceChange& change);
// The same without the service's name, for an event that names its service.
std::string what_changed(const ServiceChange& change);

}  // namespace memvisor
