// Config ↔ JSON. The reader checks every type itself, so no nlohmann exception escapes.
#include "core/config/config_json.h"

#include <fmt/format.h>

#include <vector>

#include "core/config/config_json_memory.h"
#include "core/config/config_json_reader.h"
#include "core/config/config_monitor.h"
#include "core/config/config_names.h"
#include "core/config/config_pressure.h"
#include "core/config/config_validate.h"
#include "core/units.h"

namespace memvisor {

using nlohmann::json;

namespace {

std::string duration_key(std::string_view field) {
  return fmt::format("{}_ms", field);
}

json listen_to_json(const std::vector<SocketAddress>& listen) {
  json addresses = json::array();
  for (const SocketAddress& address : listen) addresses.push_back(to_string(address));
  return addresses;
}

void listen_from_json(JsonReader& r, const json& j, const std::string& path,
                      std::vector<SocketAddress>& out) {
  if (!r.expect(j.is_array(), j, path, "an array")) return;
  for (size_t i = 0; i < j.size(); ++i) {
    const std::string element = fmt::format("{}[{}]", path, i);
    std::string text;
    r.read(j[i], element, text);
    if (r.error()) return;
    auto address = parse_socket_address(text);
    if (!r.expect(address.ok(), j[i], element, "an address")) return;
    out.push_back(*address);
  }
}

json service_to_json(const ServiceConfig& s) {
  json j = {
      {"name", s.name},
      {"command", s.command},
      {"instances", s.instances},
      {"env", s.env},
      {"cwd", s.cwd},
      {"user", s.user},
      {"listen", listen_to_json(s.listen)},
      {"listen_backlog", s.listen_backlog},
      {"listen_mode", s.listen_mode},
      {"listen_owner", s.listen_owner},
      {"restart", enum_name(kRestartPolicyNames, s.restart)},
      {"restart_backoff", s.restart_backoff},
      {"circuit_failures", s.circuit_failures},
      {"oom_score_adj", s.oom_score_adj},
      {"ready", enum_name(kReadyModeNames, s.ready)},
      {"output", enum_name(kOutputModeNames, s.output)},
      {"log_dir", s.log_dir},
      {"log_max_size", s.log_max_size},
      {"log_keep", s.log_keep},
      {"memory", memory_to_json(s.memory)},
      {"surge", s.surge},
      {"heap_sampler", s.heap_sampler},
      {"heap_runtime", s.heap_runtime ? std::string(runtime_name(*s.heap_runtime)) : ""},
      {"pprof", s.pprof},
      {"cgroup", s.cgroup},
      {"max_recycling", s.max_recycling},
      {"prefork", s.prefork},
      {"monitors", monitors_to_json(s.monitors)},
      {"memory_max", s.memory_max},
      {"memory_max_auto", s.memory_max_auto},
  };
  // A number without a standard name would not survive as "signal 40".
  auto signal_json = [](int signo) {
    std::string name = signal_name(signo);
    return parse_signal(name) ? json(name) : json(signo);
  };
  j["stop_signal"] = signal_json(s.stop_signal);
  j["prefork_signal"] = signal_json(s.prefork_signal);
  for (const auto& [field, member] : kServiceDurations) {
    j[duration_key(field)] = (s.*member).count();
  }
  return j;
}

void read_service(JsonReader& r, const json& j, const std::string& path, ServiceConfig& s) {
  std::vector<std::string> keys = {"name",
                                   "command",
                                   "instances",
                                   "env",
                                   "cwd",
                                   "user",
                                   "listen",
                                   "listen_backlog",
                                   "listen_mode",
                                   "listen_owner",
                                   "restart",
                                   "restart_backoff",
                                   "circuit_failures",
                                   "stop_signal",
                                   "ready",
                                   "output",
                                   "log_dir",
                                   "log_max_size",
                                   "log_keep",
                                   "memory",
                                   "surge",
                                   "heap_sampler",
                                   "cgroup",
                                   "max_recycling",
                                   "prefork",
                                   "prefork_signal",
                                   "heap_runtime",
                                   "pprof",
                                   "monitors",
                                   "oom_score_adj",
                                   "memory_max",
                                   "memory_max_auto"};
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
  listen_from_json(r, j["listen"], at("listen"), s.listen);
  r.read(j["listen_backlog"], at("listen_backlog"), s.listen_backlog);
  r.read(j["listen_mode"], at("listen_mode"), s.listen_mode);
  r.read(j["listen_owner"], at("listen_owner"), s.listen_owner);
  r.read(j["restart"], at("restart"), kRestartPolicyNames, s.restart);
  r.read(j["restart_backoff"], at("restart_backoff"), s.restart_backoff);
  r.read(j["circuit_failures"], at("circuit_failures"), s.circuit_failures);
  r.read_signal(j["stop_signal"], at("stop_signal"), s.stop_signal);
  r.read(j["ready"], at("ready"), kReadyModeNames, s.ready);
  r.read(j["output"], at("output"), kOutputModeNames, s.output);
  r.read(j["log_dir"], at("log_dir"), s.log_dir);
  r.read(j["log_max_size"], at("log_max_size"), s.log_max_size);
  r.read(j["log_keep"], at("log_keep"), s.log_keep);
  memory_from_json(r, j["memory"], at("memory"), s.memory);
  r.read(j["surge"], at("surge"), s.surge);
  r.read(j["heap_sampler"], at("heap_sampler"), s.heap_sampler);
  std::string heap_runtime;
  r.read(j["heap_runtime"], at("heap_runtime"), heap_runtime);
  if (!heap_runtime.empty()) {
    s.heap_runtime = parse_runtime_kind(heap_runtime);
    r.expect(s.heap_runtime.has_value(), j["heap_runtime"], at("heap_runtime"), "a runtime name");
  }
  r.read(j["pprof"], at("pprof"), s.pprof);
  r.read(j["cgroup"], at("cgroup"), s.cgroup);
  r.read(j["oom_score_adj"], at("oom_score_adj"), s.oom_score_adj);
  r.read(j["max_recycling"], at("max_recycling"), s.max_recycling);
  r.read(j["prefork"], at("prefork"), s.prefork);
  r.read_signal(j["prefork_signal"], at("prefork_signal"), s.prefork_signal);
  monitors_from_json(r, j["monitors"], at("monitors"), s.monitors);
  r.read(j["memory_max"], at("memory_max"), s.memory_max);
  r.read(j["memory_max_auto"], at("memory_max_auto"), s.memory_max_auto);
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
      {"supervisor",
       {{"state_dir", config.supervisor.state_dir},
        {"total", size_rule_to_json(config.supervisor.total)},
        {"http", config.supervisor.http},
        {"incidents_keep", config.supervisor.incidents_keep},
        {"incidents_max_size", config.supervisor.incidents_max_size},
        {"log_format", config.supervisor.log_format},
        {"events_max_size", config.supervisor.events_max_size},
        {"events_keep", config.supervisor.events_keep},
        {"oom_score_adj", config.supervisor.oom_score_adj},
        {"pressure", pressure_to_json(config.supervisor.pressure)}}},
      {"services", services},
  };
}

Result<Config> config_from_json(const json& j) {
  JsonReader r;
  Config config;
  if (r.object(j, "config", {"source", "supervisor", "services"})) {
    r.read(j["source"], "source", config.source);
    const json& supervisor = j["supervisor"];
    if (r.object(supervisor, "supervisor",
                 {"state_dir", "total", "http", "incidents_keep", "incidents_max_size",
                  "log_format", "events_max_size", "events_keep", "oom_score_adj", "pressure"})) {
      r.read(supervisor["state_dir"], "supervisor.state_dir", config.supervisor.state_dir);
      size_rule_from_json(r, supervisor["total"], "supervisor.total", config.supervisor.total);
      r.read(supervisor["http"], "supervisor.http", config.supervisor.http);
      r.read(supervisor["incidents_keep"], "supervisor.incidents_keep",
             config.supervisor.incidents_keep);
      r.read(supervisor["incidents_max_size"], "supervisor.incidents_max_size",
             config.supervisor.incidents_max_size);
      r.read(supervisor["log_format"], "supervisor.log_format", config.supervisor.log_format);
      r.read(supervisor["events_max_size"], "supervisor.events_max_size",
             config.supervisor.events_max_size);
      r.read(supervisor["events_keep"], "supervisor.events_keep", config.supervisor.events_keep);
      r.read(supervisor["oom_score_adj"], "supervisor.oom_score_adj",
             config.supervisor.oom_score_adj);
      pressure_from_json(r, supervisor["pressure"], "supervisor.pressure",
                         config.supervisor.pressure);
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
