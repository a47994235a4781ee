// `memvisor sample`: a heap sample of a worker that has libmemvisor_sampler.so preloaded. It asks
// the process for a window, waits (with a progress line), resolves symbols here with libdwfl,
// prints a summary and writes the JSON report.
#include <unistd.h>

#include <fstream>
#include <iostream>

#include "cli/cli_parse.h"
#include "cli/commands.h"
#include "cli/control_client.h"
#include "cli/state_dir.h"
#include "core/units.h"
#include "heap_report/heap_report.h"
#include "heap_report/sample_window.h"
#include "os/files.h"

namespace memvisor {
namespace {

// SERVICE.N, a pre-fork child SERVICE.N/PID, or SERVICE when it has exactly one running
// instance, to a pid via `status`.
Result<int> resolve_instance(const std::string& state_dir, const std::string& target) {
  auto reply = control_request(state_dir, {{"id", 1}, {"cmd", "status"}});
  if (!reply) return reply.error();
  if (!reply->value("ok", false)) return Error{reply->value("error", "status request failed"), 0};
  std::vector<int> pids;
  for (const auto& record : (*reply)["status"].value("instances", nlohmann::json::array())) {
    const std::string service = record.value("service", "");
    const std::string name = service + "." + std::to_string(record.value("instance", 0));
    const int pid = record.value("pid", 0);
    if (pid > 0 && (name == target || service == target)) pids.push_back(pid);
    // A pre-fork child by its unit name, "web.1/12345".
    for (const auto& child : record.value("children", nlohmann::json::array())) {
      if (child.value("unit", "") == target) pids.push_back(child.value("pid", 0));
    }
  }
  if (pids.empty()) return Error{"no running instance " + target, 0};
  if (pids.size() > 1)
    return Error{
        target + " has " + std::to_string(pids.size()) + " instances; name one as " + target + ".N",
        0};
  return pids.front();
}

int report(const RawSamples& raw, const std::string& out_path) {
  DwarfSymbolizer symbols(parse_proc_maps(raw.maps));
  const HeapReport heap = build_heap_report(raw, symbols);
  std::cout << heap_report_summary(heap);
  if (raw.unwinder == "none")
    std::cout << "(the process made no allocation since the request: nothing was sampled)\n";
  auto written = write_file_atomically(out_path, heap_report_json(heap).dump(2) + "\n", 0644);
  if (!written) return fail(kExitFailure, written.error().describe());
  std::cout << "\nreport: " << out_path << "\n";
  return kExitOk;
}

}  // namespace

int sample_command(const Args& args) {
  CLI::App app(
      "Take a heap sample of an instance (or --pid) running with the heap sampler preloaded "
      "(heap_sampler = true): what was allocated during the window and is still retained.",
      "sample");
  std::string target, state_dir_flag, out_path, raw_path;
  std::string duration_text = "30s", timeout_text = "2m", interval_text = "512KiB";
  int pid = 0;
  app.add_option("instance", target,
                 "SERVICE.N, SERVICE.N/PID (a pre-fork child) or SERVICE with a single instance");
  app.add_option("--pid", pid, "a process memvisor did not start, with the library preloaded");
  app.add_option("--raw", raw_path,
                 "build the report from a raw sample file (MEMVISOR_SAMPLER_OUT) instead");
  app.add_option("--duration", duration_text, "length of the window (default 30s)");
  app.add_option("--timeout", timeout_text, "give up waiting after this (default 2m)");
  app.add_option("--interval", interval_text, "mean bytes between samples (default 512KiB)");
  app.add_option("--out", out_path, "JSON report path (default heap-sample-PID.json)");
  app.add_option("--state-dir", state_dir_flag, "the state dir of the memvisor to ask");
  if (auto done = parse_cli(app, args)) return *done;

  if (!raw_path.empty()) {
    auto raw = read_raw_samples(raw_path);
    if (!raw) return fail(kExitFailure, raw.error().describe());
    return report(
        *raw, out_path.empty() ? "heap-sample-" + std::to_string(raw->pid) + ".json" : out_path);
  }
  if ((pid > 0) == !target.empty())
    return fail(kExitUsage, "name one INSTANCE, or --pid PID (or --raw FILE)");
  auto duration = parse_duration(duration_text);
  auto timeout = parse_duration(timeout_text);
  auto interval = parse_size(interval_text);
  if (!duration || duration->count() <= 0)
    return fail(kExitUsage, "--duration: expected a positive duration like 30s");
  if (!timeout || *timeout < *duration)
    return fail(kExitUsage, "--timeout: expected a duration at least as long as --duration");
  if (!interval || *interval == 0)
    return fail(kExitUsage, "--interval: expected a size like 512KiB");
  if (!target.empty()) {
    auto resolved = resolve_instance(resolve_state_dir(state_dir_flag), target);
    if (!resolved) return fail(kExitFailure, resolved.error().describe());
    pid = *resolved;
  }

  SampleWindowRequest request;
  request.pid = pid;
  request.duration = *duration;
  request.timeout = *timeout;
  request.interval_bytes = *interval;
  const std::string who =
      target.empty() ? "pid " + std::to_string(pid) : target + " (pid " + std::to_string(pid) + ")";
  const bool tty = isatty(STDERR_FILENO) != 0;
  Millis last_line{-1000000};
  auto raw = take_heap_sample(request, [&](Millis elapsed, const char* state) {
    // A live line on a terminal, one line every 10 s otherwise.
    if (!tty && elapsed - last_line < Millis(10000)) return;
    last_line = elapsed;
    std::cerr << (tty ? "\r" : "") << "sampling " << who << ": " << state << ", "
              << format_duration(elapsed) << " of " << format_duration(*duration)
              << (tty ? "   " : "\n") << std::flush;
  });
  if (tty) std::cerr << "\n";
  if (!raw) return fail(kExitFailure, raw.error().describe());
  return report(*raw, out_path.empty() ? "heap-sample-" + std::to_string(pid) + ".json" : out_path);
}

}  // namespace memvisor
