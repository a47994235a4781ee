// Shared by the Python and Ruby agent tests: a service under the real memvisor with
// heap_sampler = true, its agent's socket, `memvisor sample` and the report it writes.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "harness.h"

namespace memvisor::testing::agent_tests {

// A TOML string: the paths of this checkout and the temp dir need no escaping beyond quotes.
inline std::string toml_string(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// [service.NAME] with `command`, heap_sampler on or off, never restarted.
inline std::string service_config(const std::string& name, const std::vector<std::string>& command,
                                  bool heap_sampler) {
  std::string toml = "[service." + name + "]\ncommand = [";
  for (size_t i = 0; i < command.size(); ++i) toml += (i ? ", " : "") + toml_string(command[i]);
  toml += "]\nrestart = \"never\"\nheap_sampler = " + std::string(heap_sampler ? "true" : "false") +
          "\n";
  return toml;
}

inline std::string agent_socket(const Memvisor& memvisor, int pid) {
  return memvisor.state_dir() + "/sampler/" + std::to_string(pid) + ".agent";
}

inline bool agent_listens(const Memvisor& memvisor, int pid) {
  return eventually(
      [&] { return std::filesystem::exists(agent_socket(memvisor, pid)) && process_alive(pid); },
      15s);
}

inline int started_pid(const Memvisor& memvisor) {
  const auto started = memvisor.wait_events("started", 1, 15s);
  return started.empty() ? 0 : started.at(0)["pid"].get<int>();
}

struct SampleOutcome {
  CommandResult command;
  nlohmann::json report;  // null when none was written
};

// `memvisor sample TARGET --duration D` (TARGET an instance, or "--pid N").
inline SampleOutcome sample(const Memvisor& memvisor, const TempDir& dir,
                            const std::vector<std::string>& target, const std::string& duration,
                            const std::string& out_name) {
  const std::string out = dir.file(out_name);
  std::vector<std::string> args{"sample"};
  args.insert(args.end(), target.begin(), target.end());
  for (const std::string& a :
       {std::string("--duration"), duration, std::string("--timeout"), std::string("60s"),
        std::string("--out"), out, std::string("--state-dir"), memvisor.state_dir()})
    args.push_back(a);
  SampleOutcome outcome{run_memvisor(args, 90s), nullptr};
  std::ifstream in(out);
  if (in) outcome.report = nlohmann::json::parse(in, nullptr, false);
  return outcome;
}

// The first line of `file` holding `marker` (1-based), 0 when none does.
// A supervised program of an agent's runtime (`interpreter` ARGS...) in service `service` with
// heap_sampler on, and the pid it started.
struct AgentWorker {
  TempDir dir;
  std::unique_ptr<Memvisor> memvisor;
  int pid = 0;

  AgentWorker(const std::string& interpreter, const std::string& service,
              const std::vector<std::string>& args) {
    std::vector<std::string> command{interpreter};
    command.insert(command.end(), args.begin(), args.end());
    memvisor = std::make_unique<Memvisor>(
        dir, std::vector<std::string>{
                 dir.write("memvisor.toml", service_config(service, command, true))});
    pid = started_pid(*memvisor);
  }
};

inline std::string top(const nlohmann::json& report, const char* table, const char* key) {
  if (!report.is_object() || !report.contains(table) || report[table].empty()) return "";
  return report[table][0].value(key, "");
}

// Every row's key of a table.
inline std::vector<std::string> keys(const nlohmann::json& report, const char* table,
                                     const char* key) {
  std::vector<std::string> out;
  if (report.is_object() && report.contains(table))
    for (const auto& row : report[table]) out.push_back(row.value(key, ""));
  return out;
}

// The worker's lines as memvisor relayed them ("NAME.1 | text"), from memvisor's stdout or stderr.
inline std::string relayed(const std::string& output, const std::string& instance) {
  std::istringstream in(output);
  std::string line, out;
  const std::string prefix = instance + " | ";
  while (std::getline(in, line))
    if (line.rfind(prefix, 0) == 0) out += line.substr(prefix.size()) + "\n";
  return out;
}

struct WorkerRun {
  std::string out, err;
  int code = -1;
};

// Runs `command` once under memvisor, with or without heap_sampler, to its exit.
inline WorkerRun run_worker_once(const std::vector<std::string>& command, bool heap_sampler) {
  TempDir dir;
  const std::string config =
      dir.write("memvisor.toml", service_config("once", command, heap_sampler));
  Memvisor memvisor(dir, {config});
  WorkerRun run;
  const auto exited = memvisor.wait_events("exited", 1, 30s, "once.1");
  if (exited.empty()) return run;
  run.code = exited[0].value("code", -1);
  // The relay may trail the exit event by a moment: wait for the last line.
  eventually([&] { return relayed(memvisor.out(), "once.1").find("done") != std::string::npos; },
             5s);
  run.out = relayed(memvisor.out(), "once.1");
  run.err = relayed(memvisor.err(), "once.1");
  return run;
}

}  // namespace memvisor::testing::agent_tests
