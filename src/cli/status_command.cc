// `memvisor status`: every instance of a running memvisor, as a table or as JSON.
#include <cmath>
#include <iostream>

#include "cli/cli_parse.h"
#include "cli/commands.h"
#include "cli/control_client.h"
#include "cli/state_dir.h"
#include "core/text_table.h"
#include "core/units.h"

namespace memvisor {
namespace {

std::string cell(const nlohmann::json& record, const char* key, const char* fallback = "-") {
  if (!record.contains(key) || record[key].is_null()) return fallback;
  const auto& value = record[key];
  if (value.is_string())
    return value.get<std::string>().empty() ? fallback : value.get<std::string>();
  return value.dump();
}

// "+12.4 MiB/h": the sign matters, a floor going down is no leak.
std::string slope_text(const nlohmann::json& memory) {
  const double slope = memory.value("leak_slope_bytes_per_hour", 0.0);
  const auto bytes = static_cast<uint64_t>(std::llround(std::abs(slope)));
  return std::string(slope < 0 ? "-" : "+") + format_size(bytes) + "/h";
}

std::string render_status(const nlohmann::json& status) {
  std::string out;
  for (const auto& service : status.value("services", nlohmann::json::array())) {
    const std::string name = service.value("name", "?");
    out += name + ": " + std::to_string(service.value("ready", 0)) + "/" +
           std::to_string(service.value("instances", 0)) + " ready";
    // A failed deploy must not look done: processes still on the config before a reload.
    int outdated = 0;
    for (const auto& record : status.value("instances", nlohmann::json::array())) {
      outdated += record.value("service", "") == name && record.contains("outdated");
    }
    if (outdated > 0) {
      out += ", " + std::to_string(outdated) +
             " on the config from before the last reload (its replacement failed; retried)";
    }
    out += "\n";
  }
  TextTable table({"SERVICE", "INSTANCE", "PID", "STATE", "UPTIME", "PSS", "RSS", "LEAK", "REQS",
                   "RESTARTS", "LAST EXIT", "STATUS"});
  for (const auto& record : status.value("instances", nlohmann::json::array())) {
    std::string uptime = "-";
    if (record.contains("uptime_s")) {
      uptime =
          format_duration(Millis(static_cast<int64_t>(record["uptime_s"].get<double>() * 1000)));
    }
    const int pid = record.value("pid", 0);
    std::string last_exit = cell(record, "last_exit");
    if (record.contains("last_exit_reason") && last_exit != "-") {
      last_exit += " (" + record["last_exit_reason"].get<std::string>() + ")";
    }
    std::string pss = "-", rss = "-", leak = "-";
    if (record.contains("memory") && record["memory"].is_object() && pid != 0) {
      const auto& memory = record["memory"];
      pss = format_size(memory.value("pss", uint64_t{0}));
      rss = format_size(memory.value("rss", uint64_t{0}));
      // The leak rule's estimate of the floor's slope; "-" until it has judged a span.
      if (memory.contains("leak_slope_bytes_per_hour")) leak = slope_text(memory);
    }
    // Requests as counted by the worker library; "-" for a worker that never connected.
    std::string requests = "-";
    if (record.value("requests", int64_t{0}) > 0 ||
        (record.contains("worker") && record["worker"].is_object())) {
      requests = std::to_string(record.value("requests", int64_t{0}));
    }
    std::string state = record.value("state", "?");
    if (record.value("role", "") == "replacement") state += " (replacement)";
    if (record.contains("outdated")) state += " (outdated)";
    table.add_row({record.value("service", "?"), std::to_string(record.value("instance", 0)),
                   pid == 0 ? "-" : std::to_string(pid), state, uptime, pss, rss, leak, requests,
                   std::to_string(record.value("restarts", 0)), last_exit,
                   cell(record, "status", "")});
    // prefork = true: each child of the instance's process on a row of its own, "1/12345".
    for (const auto& child : record.value("children", nlohmann::json::array())) {
      const std::string unit = child.value("unit", "");
      const size_t dot = unit.rfind('.', unit.find('/'));
      std::string child_pss = "-", child_rss = "-", child_leak = "-";
      if (child.contains("memory") && child["memory"].is_object()) {
        const auto& memory = child["memory"];
        child_pss = format_size(memory.value("pss", uint64_t{0}));
        child_rss = format_size(memory.value("rss", uint64_t{0}));
        if (memory.contains("leak_slope_bytes_per_hour")) child_leak = slope_text(memory);
      }
      table.add_row(
          {record.value("service", "?"), dot == std::string::npos ? unit : unit.substr(dot + 1),
           std::to_string(child.value("pid", 0)), "child",
           format_duration(Millis(static_cast<int64_t>(child.value("uptime_s", 0.0) * 1000))),
           child_pss, child_rss, child_leak, "-", "-", "-", ""});
    }
  }
  return out + "\n" + table.render();
}

}  // namespace

int status_command(const Args& args) {
  CLI::App app(
      "Show every instance of a running memvisor: pid, state, uptime, restarts, last exit.",
      "status");
  std::string state_dir_flag;
  bool json = false;
  app.add_option("--state-dir", state_dir_flag, "the state dir of the memvisor to ask");
  app.add_flag("--json", json, "print the status as one JSON object");
  if (auto done = parse_cli(app, args)) return *done;

  auto reply = control_request(resolve_state_dir(state_dir_flag), {{"id", 1}, {"cmd", "status"}});
  if (!reply) return fail(kExitFailure, reply.error().describe());
  if (!reply->value("ok", false))
    return fail(kExitFailure, reply->value("error", "request failed"));
  const auto& status = (*reply)["status"];
  if (json) {
    std::cout << status.dump(2) << "\n";
  } else {
    std::cout << render_status(status);
  }
  return kExitOk;
}

}  // namespace memvisor
