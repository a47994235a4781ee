// `memvisor record`: a process's memory as CSV on stdout (t_s,rss,pss,uss,swap), the input of
// `memvisor replay`; with --instance and --gauge NAME, also that instance's gauges
// (gauge:NAME columns), as the supervisor last heard them. t_s is the process's age, as in the
// supervisor's series and an incident bundle's memory.csv: the leak rule judges a process's
// first `warmup` by it, so a recording begun hours into a process replays as the live rule saw
// it, not as a fresh start.
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <iostream>
#include <sstream>
#include <thread>

#include "cli/cli_parse.h"
#include "cli/commands.h"
#include "cli/control_client.h"
#include "cli/state_dir.h"
#include "core/config/metric_name.h"
#include "core/time_format.h"
#include "core/units.h"
#include "os/memory_reader.h"
#include "os/process_usage.h"

namespace memvisor {
namespace {

volatile std::sig_atomic_t interrupted = 0;

// SERVICE.N of a running memvisor → its current pid and start time.
Result<std::pair<pid_t, uint64_t>> find_instance(const std::string& state_dir,
                                                 const std::string& label) {
  auto reply = control_request(state_dir, {{"id", 1}, {"cmd", "status"}});
  if (!reply) return reply.error();
  if (!reply->value("ok", false)) return Error{reply->value("error", "status failed")};
  for (const auto& record : (*reply)["status"]["instances"]) {
    const std::string name =
        record.value("service", "") + "." + std::to_string(record.value("instance", 0));
    if (name == label && record.value("role", "primary") == "primary" &&
        record.value("pid", 0) != 0) {
      return std::pair<pid_t, uint64_t>{record.value("pid", 0), record.value("start_ticks", 0ULL)};
    }
  }
  return Error{"no running instance " + label};
}

// The latest values of `names` for SERVICE.N's process `pid` from the supervisor's status; an
// empty cell for a gauge it does not have (or when the supervisor does not answer).
std::vector<std::string> gauge_cells(const std::string& state_dir, const std::string& label,
                                     pid_t pid, const std::vector<std::string>& names) {
  std::vector<std::string> cells(names.size());
  auto reply = control_request(state_dir, {{"id", 1}, {"cmd", "status"}});
  if (!reply || !reply->value("ok", false)) return cells;
  for (const auto& record : (*reply)["status"]["instances"]) {
    const std::string name =
        record.value("service", "") + "." + std::to_string(record.value("instance", 0));
    if (name != label || record.value("pid", 0) != pid || !record.contains("gauges")) continue;
    for (size_t i = 0; i < names.size(); ++i) {
      const auto value = record["gauges"].find(names[i]);
      if (value != record["gauges"].end() && value->is_number()) {
        std::ostringstream text;
        text << value->get<double>();
        cells[i] = text.str();
      }
    }
  }
  return cells;
}

}  // namespace

int record_command(const Args& args) {
  CLI::App app(
      "Sample a process's memory and print CSV (t_s,rss,pss,uss,swap: the process's age in "
      "seconds, bytes) until it exits, --duration passes or Ctrl-C.",
      "record");
  int pid = 0;
  std::string instance, interval_text = "1s", duration_text, state_dir_flag;
  auto* by_pid = app.add_option("--pid", pid, "the process to record");
  auto* by_instance = app.add_option("--instance", instance, "SERVICE.N of a running memvisor");
  by_pid->excludes(by_instance);
  app.add_option("--interval", interval_text, "sampling period (default 1s)");
  app.add_option("--duration", duration_text, "stop after this long");
  app.add_option("--state-dir", state_dir_flag, "the memvisor to ask for --instance");
  std::vector<std::string> gauges;
  app.add_option("--gauge", gauges,
                 "with --instance: also record this gauge of the instance (a gauge:NAME column; "
                 "repeatable)")
      ->needs(by_instance);
  if (auto done = parse_cli(app, args)) return *done;
  if (pid <= 0 && instance.empty())
    return fail(kExitUsage, "record: give --pid PID or --instance SERVICE.N");
  for (const std::string& name : gauges) {
    if (!valid_gauge_name(name)) {
      return fail(kExitUsage,
                  "--gauge: expected a name matching [a-zA-Z_:][a-zA-Z0-9_:]*, got '" + name + "'");
    }
  }

  auto interval = parse_duration(interval_text);
  if (!interval || interval->count() < 10) {
    return fail(kExitUsage,
                "--interval: expected a duration of at least 10ms, got '" + interval_text + "'");
  }
  std::optional<Millis> duration;
  if (!duration_text.empty()) {
    auto parsed = parse_duration(duration_text);
    if (!parsed) return fail(kExitUsage, "--duration: " + parsed.error().message);
    duration = *parsed;
  }
  uint64_t start_ticks = 0;
  if (!instance.empty()) {
    auto found = find_instance(resolve_state_dir(state_dir_flag), instance);
    if (!found) return fail(kExitFailure, found.error().describe());
    pid = found->first;
    start_ticks = found->second;
  } else if (auto stat = read_proc_stat(pid); stat) {
    start_ticks = stat->start_time_ticks;
  } else {
    return fail(kExitFailure, "no process " + std::to_string(pid));
  }

  std::signal(SIGINT, [](int) { interrupted = 1; });
  std::signal(SIGTERM, [](int) { interrupted = 1; });
  ProcMemoryReader reader;
  const auto start = std::chrono::steady_clock::now();
  // The process's start on the wall clock; without /proc/stat's clock the times count from now.
  const auto wall_now = [] { return to_unix_seconds(std::chrono::system_clock::now()); };
  double started_at = wall_now();
  if (auto clock = read_process_clock(); clock) {
    started_at = clock->started_at(start_ticks);
  } else {
    std::cerr << "memvisor: " << clock.error().describe()
              << ": t_s counts from the start of the recording, not the process's\n";
  }
  const std::string state_dir = instance.empty() ? "" : resolve_state_dir(state_dir_flag);
  std::cout << "t_s,rss,pss,uss,swap";
  for (const std::string& name : gauges) std::cout << ",gauge:" << name;
  std::cout << "\n";
  for (auto next = start; !interrupted; next += *interval) {
    const auto now = std::chrono::steady_clock::now();
    if (duration && now - start > *duration) break;
    auto sample = reader.read_process(pid, start_ticks);
    if (!sample) {
      std::cerr << "memvisor: process " << pid << " is gone\n";
      break;
    }
    const double t = std::max(0.0, wall_now() - started_at);
    std::cout << t << "," << sample->rss << "," << sample->pss << "," << sample->uss << ","
              << sample->swap;
    // One status request per sample, only when gauges are asked for: the supervisor has them.
    if (!gauges.empty()) {
      for (const std::string& cell : gauge_cells(state_dir, instance, pid, gauges)) {
        std::cout << "," << cell;
      }
    }
    std::cout << std::endl;  // flushed per line: readers follow it live
    std::this_thread::sleep_until(next + *interval);
  }
  return kExitOk;
}

}  // namespace memvisor
