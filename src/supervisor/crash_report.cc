#include "supervisor/crash_report.h"

#include <unistd.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <nlohmann/json.hpp>

#include "core/config/config_json.h"
#include "core/incident/incident_report.h"
#include "core/observe/unit_name.h"
#include "core/units.h"
#include "os/files.h"

namespace memvisor {
namespace {

std::string compact_time(WallTime time) {
  // "2026-11-22T16:40:01.123Z" → "20261122-164001"
  const std::string iso = format_rfc3339(time);
  std::string out;
  for (char c : iso.substr(0, 19)) {
    if (c == 'T') {
      out.push_back('-');
    } else if (c != '-' && c != ':') {
      out.push_back(c);
    }
  }
  return out;
}

std::string read_or(const std::string& path, const std::string& fallback) {
  auto text = read_file(path);
  return text ? *text : fallback;
}

}  // namespace

Result<std::string> write_crash_report(const CrashReportInput& input) {
  if (Status made = make_directories(input.incidents_dir, 0750); !made) return made.error();
  const RuleAction& action = input.action;
  const std::string label = unit_name(action.service, action.instance, action.child);
  // The file name takes no slash: a pre-fork child's is "web.1_12345".
  std::string file_label = label;
  std::replace(file_label.begin(), file_label.end(), '/', '_');
  const std::string first = fmt::format("{}/memvisor-crash-{}-{}", input.incidents_dir,
                                        compact_time(input.time), file_label);
  std::string base = first;
  for (int n = 2; ::access((base + ".json").c_str(), F_OK) == 0; ++n) {
    base = fmt::format("{}-{}", first, n);
  }
  const std::string proc = fmt::format("{}/{}", input.proc_root, action.pid);

  // Read /proc first: the process is about to be stopped.
  std::string cmdline = read_or(proc + "/cmdline", "");
  for (char& c : cmdline) c = c == '\0' ? ' ' : c;
  const std::string status = read_or(proc + "/status", "(unreadable)");

  nlohmann::json samples = nlohmann::json::array();
  MemoryValues last;
  if (input.samples != nullptr) {
    for (const TimedSample& sample : *input.samples) {
      nlohmann::json row = memory_values_json(sample.values);
      row["t_s"] = sample.t_s;
      samples.push_back(std::move(row));
    }
    if (!input.samples->empty()) last = input.samples->back().values;
  }
  nlohmann::json rule = {{"rule", action.decision.rule},
                         {"metric", action.decision.metric},
                         {"value", action.decision.value},
                         {"threshold", action.decision.threshold}};
  nlohmann::json report = {
      {"ts", format_rfc3339(input.time)},
      {"service", action.service},
      {"instance", action.instance},
      {"generation", action.generation},
      {"pid", action.pid},
      {"unit", label},
      {"rule", rule},
      {"message", action.decision.message},
      {"memory", memory_values_json(last)},
      {"process", {{"cmdline", cmdline}, {"status", status}}},
      {"samples", samples},
  };
  if (input.service != nullptr) {
    Config one;
    one.services.push_back(*input.service);
    report["config"] = config_to_json(one)["services"][0];
  }
  const std::string json_path = base + ".json";
  if (Status s = write_file_atomically(json_path, report.dump(2) + "\n", 0640); !s)
    return s.error();

  std::string summary = fmt::format(
      "memvisor crash report: {} (pid {}, generation {})\n"
      "time:       {}\n"
      "rule:       {}\n"
      "memory:     rss {}, pss {}, uss {}, swap {}\n"
      "what:       {}\n"
      "action:     {}\n"
      "command:    {}\n"
      "samples:    {} kept in {}\n",
      label, action.pid, action.generation, format_rfc3339(input.time),
      describe_decision(action.decision), format_size(last.rss), format_size(last.pss),
      format_size(last.uss), format_size(last.swap), action.decision.message, input.action_text,
      cmdline, samples.size(), json_path);
  if (Status s = write_file_atomically(base + "-summary.txt", summary, 0640); !s) {
    ::unlink(json_path.c_str());  // a report comes whole or not at all (a full disk)
    return s.error();
  }
  return json_path;
}

}  // namespace memvisor
