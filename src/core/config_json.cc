// Config ↔ JSON. The reader checks every type itself, so no nlohmann exception escapes.
#include "core/config_json.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <vector>

#include "core/config_names.h"
#include "core/config_validate.h"
#include "core/units.h"

namespace memvisor {

using nlohmann::json;

namespace {

std::string duration_key(std::string_view field) {
  return fmt::format("{}_ms", field);
}

json service_to_json(const ServiceConfig& s) {
  json j = {
      {"name", s.name},
      {"command", s.command},
      {"instances", s.instances},
      {"env", s.env},
      {"cwd", s.cwd},
      {"user", s.user},
      {"restart", enum_name(kRestartPolicyNames, s.restart)},
      {"restart_backoff", s.restart_backoff},
      {"circuit_failures", s.circuit_failures},
      {"ready", enum_name(kReadyModeNames, s.ready)},
      {"output", enum_name(kOutputModeNames, s.output)},
      {"log_dir", s.log_dir},
  };
  // A number without a standard name would not survive as "signal 40".
  std::string signal = signal_name(s.stop_signal);
  j["stop_signal"] = parse_signal(signal) ? json(signal) : json(s.stop_signal);
  for (const auto& [field, member] : kServiceDurations) {
    j[duration_key(field)] = (s.*member).count();
  }
  return j;
}

// Reads values at JSON paths, keeping the first error; later reads are then no-ops.
class JsonReader {
 public:
  const std::optional<std::string>& error() const { return error_; }

  // Whether j is an object with exactly these keys.
  bool object(const json& j, std::string_view path, const std::vector<std::string>& keys) {
    if (!j.is_object()) return fail(path, fmt::format("expected an object, got {}", j.type_name()));
    for (const auto& [key, value] : j.items()) {
      if (std::find(keys.begin(), keys.end(), key) == keys.end()) {
        return fail(path, fmt::format("unknown key '{}'", key));
      }
    }
    for (const std::string& key : keys) {
      if (!j.contains(key)) return fail(path, fmt::format("missing key '{}'", key));
    }
    return true;
  }

  void read(const json& j, std::string_view path, std::string& out) {
    if (expect(j.is_string(), j, path, "a string")) out = j.get<std::string>();
  }

  void read(const json& j, std::string_view path, int64_t& out) {
    bool fits = j.is_number_integer() &&
                (!j.is_number_unsigned() ||
                 j.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()));
    if (!fits) {
      fail(path, fmt::format("expected a 64-bit integer, got {}", j.dump()));
      return;
    }
    out = j.get<int64_t>();
  }

  void read(const json& j, std::string_view path, int& out) {
    int64_t wide = 0;
    read(j, path, wide);
    if (wide < std::numeric_limits<int>::min() || wide > std::numeric_limits<int>::max()) {
      fail(path, fmt::format("expected a 32-bit integer, got {}", wide));
    }
    out = static_cast<int>(wide);
  }

  void read(const json& j, std::string_view path, double& out) {
    if (expect(j.is_number(), j, path, "a number")) out = j.get<double>();
  }

  void read(const json& j, std::string_view path, Millis& out) {
    int64_t ms = 0;
    read(j, path, ms);
    out = Millis{ms};
  }

  // Whether ok; if not, reports that j is not what was expected.
  bool expect(bool ok, const json& j, std::string_view path, std::string_view expected) {
    if (!ok) fail(path, fmt::format("expected {}, got {}", expected, j.type_name()));
    return ok;
  }

  template <class E, size_t N>
  void read(const json& j, std::string_view path, const std::array<EnumName<E>, N>& names, E& out) {
    std::optional<E> value;
    if (j.is_string()) value = enum_from_name(names, j.get<std::string>());
    if (!value) {
      fail(path, fmt::format("expected one of {}, got {}", enum_choices(names), j.dump()));
      return;
    }
    out = *value;
  }

  void read_signal(const json& j, std::string_view path, int& out) {
    if (!j.is_string()) return read(j, path, out);
    auto signo = parse_signal(j.get<std::string>());
    if (!signo) {
      fail(path, fmt::format("expected a signal name, got {}", j.dump()));
      return;
    }
    out = *signo;
  }

 private:
  bool fail(std::string_view path, std::string what) {
    if (!error_) error_ = fmt::format("{}: {}", path, what);
    return false;
  }

  std::optional<std::string> error_;
};

void read_service(JsonReader& r, const json& j, const std::string& path, ServiceConfig& s) {
  std::vector<std::string> keys = {
      "name",    "command",         "instances",        "env",         "cwd",   "user",
      "restart", "restart_backoff", "circuit_failures", "stop_signal", "ready", "output",
      "log_dir"};
  for (const auto& [field, member] : kServiceDurations) keys.push_back(duration_key(field));
  if (!r.object(j, path, keys)) return;
  auto at = [&](std::string_view key) { return fmt::format("{}.{}", path, key); };
  r.read(j["name"], at("name"), s.name);
  const json& command = j["command"];
  if (r.expect(command.is_array(), command, at("command"), "an array")) {
    s.command.resize(command.size());
    for (size_t i = 0; i < command.size(); ++i) {
      r.read(command[i], fmt::format("{}.command[{}]", path, i), s.command[i]);
    }
  }
  r.read(j["instances"], at("instances"), s.instances);
  if (r.expect(j["env"].is_object(), j["env"], at("env"), "an object")) {
    for (const auto& [name, value] : j["env"].items()) {
      r.read(value, fmt::format("{}.env.{}", path, name), s.env[name]);
    }
  }
  r.read(j["cwd"], at("cwd"), s.cwd);
  r.read(j["user"], at("user"), s.user);
  r.read(j["restart"], at("restart"), kRestartPolicyNames, s.restart);
  r.read(j["restart_backoff"], at("restart_backoff"), s.restart_backoff);
  r.read(j["circuit_failures"], at("circuit_failures"), s.circuit_failures);
  r.read_signal(j["stop_signal"], at("stop_signal"), s.stop_signal);
  r.read(j["ready"], at("ready"), kReadyModeNames, s.ready);
  r.read(j["output"], at("output"), kOutputModeNames, s.output);
  r.read(j["log_dir"], at("log_dir"), s.log_dir);
  for (const auto& [field, member] : kServiceDurations) {
    std::string key = duration_key(field);
    r.read(j[key], at(key), s.*member);
  }
}

}  // namespace

json config_to_json(const Config& config) {
  json services = json::array();
  for (const ServiceConfig& service : config.services) services.push_back(service_to_json(service));
  return {
      {"source", config.source},
      {"supervisor", {{"state_dir", config.supervisor.state_dir}}},
      {"services", services},
  };
}

Result<Config> config_from_json(const json& j) {
  JsonReader r;
  Config config;
  if (r.object(j, "config", {"source", "supervisor", "services"})) {
    r.read(j["source"], "source", config.source);
    if (r.object(j["supervisor"], "supervisor", {"state_dir"})) {
      r.read(j["supervisor"]["state_dir"], "supervisor.state_dir", config.supervisor.state_dir);
    }
    const json& services = j["services"];
    if (r.expect(services.is_array(), services, "services", "an array")) {
      for (size_t i = 0; i < services.size() && !r.error(); ++i) {
        read_service(r, services[i], fmt::format("services[{}]", i),
                     config.services.emplace_back());
      }
    }
  }
  if (r.error()) return Error{*r.error()};
  if (auto status = validate_config(config); !status) return status.error();
  return config;
}

}  // namespace memvisor
