// `memvisor watch`: guard one process without a config file. A warning once on stderr; at
// critical (or a limit or a leak that would recycle) a crash report, an incident bundle and a
// kill, exit code 1; otherwise the command's own exit code.
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <deque>
#include <iostream>
#include <thread>

#include "cli/cli_parse.h"
#include "cli/commands.h"
#include "cli/service_flags.h"
#include "cli/state_dir.h"
#include "core/rules/memory_rules.h"
#include "core/time_format.h"
#include "os/memory_reader.h"
#include "os/pidfd.h"
#include "os/process_usage.h"
#include "os/spawn.h"
#include "supervisor/crash_report.h"
#include "supervisor/incident_bundle.h"

namespace memvisor {
namespace {

// Exit code of a reaped child: its own code, or 128 + the signal, as shells report it.
int exit_code_of(int status) {
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// The incident bundle `run` would write (memvisor incidents lists it), with /proc read now and
// no thread stacks: a guard of one process has no supervisor to take them beside it.
Result<std::string> write_watch_bundle(const std::string& incidents_dir, WallTime now,
                                       const ServiceConfig& service, pid_t pid,
                                       const RuleDecision& decision, const std::string& what,
                                       const std::deque<TimedSample>& samples) {
  BundleContent content = start_bundle(RuleAction{service.name, 1, 1, pid, decision}, now,
                                       decision.action == "critical" ? "critical" : decision.rule,
                                       decision, what, samples, service.memory);
  content.stacks = "(none: memvisor watch takes no thread stacks; memvisor run does)\n";
  return write_incident_bundle(incidents_dir, content);
}

}  // namespace

int watch_command(const Args& all_args) {
  const auto [args, command] = split_at_dashes(all_args);

  CLI::App app(
      "Guard one process by its memory, without a config file:\n\n"
      "  memvisor watch --warn 100MiB --critical 500MiB -- CMD [ARGS...]\n"
      "  memvisor watch --critical 2GiB --pid PID",
      "watch");
  int pid_flag = 0;
  std::string state_dir_flag;
  ServiceFlags flags;
  app.add_option("--pid", pid_flag, "watch a running process instead of starting CMD");
  app.add_option("--state-dir", state_dir_flag, "crash reports go to STATE_DIR/incidents");
  flags.add_guard_flags_to(app);
  app.get_option("--interval")->description("memory sampling period, 100ms to 1h (default 100ms)");
  app.get_option("--metric")->description("pss | rss | uss | anon | swap (default pss)");
  if (auto done = parse_cli(app, args)) return *done;
  if ((pid_flag > 0) == !command.empty())
    return fail(kExitUsage, "watch: give either --pid PID or -- CMD [ARGS...]");

  auto built = flags.build(command.empty() ? std::vector<std::string>{"watched"} : command);
  if (!built) return fail(kExitUsage, built.error().describe());
  ServiceConfig service = std::move(*built);
  // A gauge comes over the worker socket and a cgroup is made per instance: both need `run`.
  if (service.memory.metric.is_gauge() || service.memory.metric == MemoryMetric::cgroup) {
    return fail(kExitUsage, "--metric: watch measures pss, rss, uss, anon or swap; got '" +
                                std::string(to_string(service.memory.metric)) +
                                "' (gauges and cgroups need memvisor run)");
  }
  if (app.count("--interval") == 0) service.memory.interval = Millis(100);  // a guard reacts fast

  pid_t pid = pid_flag;
  UniqueFd pidfd;
  const bool ours = pid_flag == 0;
  if (ours) {
    SpawnSpec spec;
    spec.argv = command;
    spec.env = current_environment();
    spec.stdin_fd = STDIN_FILENO;
    spec.new_process_group = false;  // Ctrl-C reaches it as it would without memvisor
    auto spawned = spawn_process(spec);
    if (!spawned) return fail(kExitFailure, spawned.error().describe());
    pid = spawned->pid;
    pidfd = std::move(spawned->pidfd);
    std::signal(SIGINT, SIG_IGN);  // the command decides what Ctrl-C means; we follow its exit
  } else {
    auto opened = pidfd_open(pid);
    if (!opened) return fail(kExitFailure, opened.error().describe());
    pidfd = std::move(*opened);
    // pidfd_open checks no permission; the kill a rule may need does. Said now, not as "killed"
    // about a process that runs on.
    if (Status may = pidfd_signal(pidfd.get(), 0); !may)
      return fail(kExitFailure, "cannot signal pid " + std::to_string(pid) + " (" +
                                    may.error().describe() + "): watch it as its user, or as root");
  }
  uint64_t start_ticks = 0;
  if (auto stat = read_proc_stat(pid)) start_ticks = stat->start_time_ticks;

  // Times are the process's age, as in `run`: a process watched by --pid hours after its start
  // is past its warm-up for the leak rule, and its series reads as a bundle's always does.
  const auto wall_now = [] { return to_unix_seconds(std::chrono::system_clock::now()); };
  double started_at = wall_now();
  if (auto clock = read_process_clock(); clock && start_ticks != 0) {
    started_at = std::min(started_at, clock->started_at(start_ticks));
  }

  ProcMemoryReader reader;
  ProcessRules rules(service, 0.5);
  std::deque<TimedSample> samples;
  const auto start = std::chrono::steady_clock::now();
  for (auto next = start;; next += service.memory.interval) {
    if (ours) {
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) return exit_code_of(status);
    } else if (pidfd_exited(pidfd.get())) {
      return kExitOk;  // the watched process is gone, whoever has its pid now
    }
    auto sample = service.memory.tree ? reader.read_tree(pid, start_ticks)
                                      : reader.read_process(pid, start_ticks);
    if (!sample) {
      if (!ours) return kExitOk;  // the watched process is gone
      std::this_thread::sleep_until(next + service.memory.interval);
      continue;  // ours is exiting: the next waitpid sees it
    }
    const double t = std::max(0.0, wall_now() - started_at);
    const MemoryValues values{sample->rss, sample->pss, sample->uss, sample->swap, sample->anon, 0};
    samples.push_back({t, values});
    if (samples.size() > MemoryWatch::kMaxSamples) samples.pop_front();
    auto decisions = rules.on_sample(t, values);
    auto progress = rules.on_progress(t, 0);
    decisions.insert(decisions.end(), progress.begin(), progress.end());
    for (const RuleDecision& d : decisions) {
      if (d.action == "warn" || d.action == "alert") {
        std::cerr << "memvisor watch: WARNING: pid " << pid << ": " << d.message << "\n";
        continue;
      }
      // critical, or a rule that would recycle: there is no replacement here, so stop it now,
      // once /proc is read for the evidence.
      const std::string incidents_dir = resolve_state_dir(state_dir_flag) + "/incidents";
      const WallTime now = std::chrono::system_clock::now();
      const std::string what = "killed (SIGKILL) by memvisor watch; nothing restarts it";
      CrashReportInput input;
      input.incidents_dir = incidents_dir;
      input.time = now;
      input.service = &service;
      input.action = RuleAction{service.name, 1, 1, pid, d};
      input.samples = &samples;
      input.action_text = what;
      auto report = write_crash_report(input);
      auto bundle = write_watch_bundle(incidents_dir, now, service, pid, d, what, samples);
      const Status killed = pidfd_signal(pidfd.get(), SIGKILL);
      if (ours) ::waitpid(pid, nullptr, 0);
      std::cerr << "memvisor watch: CRITICAL: pid " << pid << ": " << d.message
                << (killed ? std::string("; killed")
                           : "; cannot kill it: " + killed.error().describe())
                << "\n";
      if (report) {
        std::cerr << "memvisor watch: crash report: " << *report << "\n";
      } else {
        std::cerr << "memvisor watch: cannot write the crash report: " << report.error().describe()
                  << "\n";
      }
      if (bundle) {
        std::cerr << "memvisor watch: incident bundle: " << *bundle << "\n";
      } else {
        std::cerr << "memvisor watch: cannot write the incident bundle: "
                  << bundle.error().describe() << "\n";
      }
      return kExitFailure;
    }
    std::this_thread::sleep_until(next + service.memory.interval);
  }
}

}  // namespace memvisor
