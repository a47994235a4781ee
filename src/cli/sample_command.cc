// `memvisor sample`: a heap sample of a worker, in its runtime's terms. A native process (the
// preloaded libmemvisor_sampler.so) is asked for a window and its symbols resolved here with
// libdwfl; Node, Python, the JVM, Ruby and Go are sampled by runtimes/. Either way it waits with a
// progress line, prints a summary and writes the same JSON report.
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iostream>

#include "cli/cli_parse.h"
#include "cli/commands.h"
#include "cli/control_client.h"
#include "cli/state_dir.h"
#include "core/config/http_url.h"
#include "core/proc/children_list.h"
#include "core/proc/runtime_kind.h"
#include "core/units.h"
#include "heap_report/heap_report.h"
#include "heap_report/sample_window.h"
#include "os/files.h"
#include "runtimes/detect_runtime.h"
#include "runtimes/runtime_sample.h"

namespace memvisor {
namespace {

struct SampleTarget {
  int pid = 0;
  std::string heap_sampler;  // the service's: "auto", a runtime's name, or "" (off)
  std::string pprof;
};

// SERVICE.N, a pre-fork child SERVICE.N/PID, or SERVICE when it has exactly one running
// instance, to a pid and its service's sampler settings via `status`.
Result<SampleTarget> resolve_instance(const std::string& state_dir, const std::string& target) {
  auto reply = control_request(state_dir, {{"id", 1}, {"cmd", "status"}});
  if (!reply) return reply.error();
  if (!reply->value("ok", false)) return Error{reply->value("error", "status request failed"), 0};
  const nlohmann::json& status = (*reply)["status"];
  std::vector<std::pair<int, std::string>> found;  // pid, service
  for (const auto& record : status.value("instances", nlohmann::json::array())) {
    const std::string service = record.value("service", "");
    const std::string name = service + "." + std::to_string(record.value("instance", 0));
    const int pid = record.value("pid", 0);
    if (pid > 0 && (name == target || service == target)) found.emplace_back(pid, service);
    // A pre-fork child by its unit name, "web.1/12345".
    for (const auto& child : record.value("children", nlohmann::json::array())) {
      if (child.value("unit", "") == target) found.emplace_back(child.value("pid", 0), service);
    }
  }
  if (found.empty()) return Error{"no running instance " + target, 0};
  if (found.size() > 1)
    return Error{target + " has " + std::to_string(found.size()) + " instances; name one as " +
                     target + ".N",
                 0};
  SampleTarget out;
  out.pid = found.front().first;
  for (const auto& service : status.value("services", nlohmann::json::array())) {
    if (service.value("name", "") != found.front().second) continue;
    out.heap_sampler = service.value("heap_sampler", "");
    out.pprof = service.value("pprof", "");
  }
  return out;
}

int write_report(const HeapReport& heap, const std::string& out_path) {
  std::cout << heap_report_summary(heap);
  auto written = write_file_atomically(out_path, heap_report_json(heap).dump(2) + "\n", 0644);
  if (!written) return fail(kExitFailure, written.error().describe());
  std::cout << "\nreport: " << out_path << "\n";
  return kExitOk;
}

int report(const RawSamples& raw, const std::string& out_path) {
  DwarfSymbolizer symbols(parse_proc_maps(raw.maps));
  HeapReport heap = build_heap_report(raw, symbols);
  if (raw.unwinder == "none")
    heap.caveats.insert(heap.caveats.begin(),
                        "the process made no allocation since the request: nothing was sampled");
  return write_report(heap, out_path);
}

// A forced runtime wins; else the process's own (a Go binary by its sections), or Go when a pprof
// endpoint is named and the process looks native.
RuntimeKind choose_runtime(const std::string& runtime_text, const std::string& pprof, int pid) {
  if (auto forced = parse_runtime_kind(runtime_text)) return *forced;
  const RuntimeKind seen = detect_runtime(pid);
  if (seen == RuntimeKind::native && !pprof.empty()) return RuntimeKind::go;
  return seen;
}

// The process a sample is about: `pid`, unless it is a shell waiting on the program (a service
// with `shell = true` and no `exec`, a wrapper script), whose allocations would never come. Then
// its one child, and so on down; a shell with several children names them.
Result<int> program_behind_shells(int pid) {
  for (int depth = 0; depth < 8; ++depth) {
    const std::string dir = "/proc/" + std::to_string(pid);
    const std::string exe = read_link(dir + "/exe");
    if (!is_shell_executable(exe)) return pid;
    std::vector<int> children;
    if (auto text = read_file(dir + "/task/" + std::to_string(pid) + "/children"))
      parse_children_list(*text, children);
    if (children.empty()) return pid;  // a script doing the work itself
    if (children.size() > 1) {
      std::string list;
      for (int child : children) list += (list.empty() ? "" : ", ") + std::to_string(child);
      return Error{"pid " + std::to_string(pid) + " is " + exe + " with children " + list +
                       ": name the program with --pid (or exec it from the shell)",
                   0};
    }
    std::cerr << "pid " << pid << " is " << exe
              << " (a command without exec): sampling its child, pid " << children.front() << "\n";
    pid = children.front();
  }
  return pid;
}

// The report is written after the window: a path that cannot be is said before it starts.
std::optional<std::string> unwritable_report_path(const std::string& path) {
  const size_t slash = path.rfind('/');
  const std::string dir =
      slash == std::string::npos ? "." : (slash == 0 ? "/" : path.substr(0, slash));
  if (access(dir.c_str(), W_OK | X_OK) == 0) return std::nullopt;
  return "cannot write the report in " + dir + ": " + std::strerror(errno);
}

}  // namespace

int sample_command(const Args& args) {
  CLI::App app(
      "Take a heap sample of an instance (or --pid): what was allocated during the window and is "
      "still retained, by function, file:line, module and type, in the worker's own language "
      "(native, Node, Python, JVM, Ruby, Go). Native, Python and Ruby workers need heap_sampler "
      "set on their service.",
      "sample");
  std::string target, state_dir_flag, out_path, raw_path, runtime_text = "auto", pprof;
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
  app.add_option("--runtime", runtime_text,
                 "auto (default: the service's heap_sampler, else told from the process), "
                 "native, node, python, jvm, ruby or go");
  app.add_option("--pprof", pprof, "a Go worker's pprof base URL (default: the service's pprof)");
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
  if (runtime_text != "auto" && !parse_runtime_kind(runtime_text))
    return fail(kExitUsage,
                "--runtime: expected auto, native, node, python, jvm, ruby or go, got '" +
                    runtime_text + "'");
  if (!pprof.empty()) {
    if (auto problem = check_pprof_url(pprof)) return fail(kExitUsage, "--pprof: " + *problem);
  }
  if (!target.empty()) {
    auto resolved = resolve_instance(resolve_state_dir(state_dir_flag), target);
    if (!resolved) return fail(kExitFailure, resolved.error().describe());
    pid = resolved->pid;
    if (runtime_text == "auto" && !resolved->heap_sampler.empty())
      runtime_text = resolved->heap_sampler;
    if (pprof.empty()) pprof = resolved->pprof;
  }
  auto program = program_behind_shells(pid);
  if (!program) return fail(kExitFailure, program.error().describe());
  pid = *program;
  const RuntimeKind runtime = choose_runtime(runtime_text, pprof, pid);

  const std::string path =
      out_path.empty() ? "heap-sample-" + std::to_string(pid) + ".json" : out_path;
  if (auto problem = unwritable_report_path(path))
    return fail(kExitUsage, (out_path.empty() ? "" : "--out: ") + *problem +
                                (out_path.empty() ? " (name a report path with --out)" : ""));
  const std::string who = (target.empty() ? "pid " + std::to_string(pid)
                                          : target + " (pid " + std::to_string(pid) + ")") +
                          " [" + std::string(runtime_name(runtime)) + "]";
  const bool tty = isatty(STDERR_FILENO) != 0;
  Millis last_line{-1000000};
  const auto progress = [&](Millis elapsed, const char* state) {
    // A live line on a terminal, one line every 10 s otherwise.
    if (!tty && elapsed - last_line < Millis(10000)) return;
    last_line = elapsed;
    std::cerr << (tty ? "\r" : "") << "sampling " << who << ": " << state << ", "
              << format_duration(elapsed) << " of " << format_duration(*duration)
              << (tty ? "   " : "\n") << std::flush;
  };
  if (runtime != RuntimeKind::native) {
    RuntimeSampleRequest request;
    request.pid = pid;
    request.duration = *duration;
    request.timeout = *timeout;
    request.interval_bytes = *interval;
    request.pprof_url = pprof;
    auto profile = sample_runtime(runtime, request, progress);
    if (tty) std::cerr << "\n";
    if (!profile) return fail(kExitFailure, profile.error().describe());
    profile->pid = static_cast<uint32_t>(pid);
    return write_report(build_runtime_report(*profile), path);
  }
  SampleWindowRequest request;
  request.pid = pid;
  request.duration = *duration;
  request.timeout = *timeout;
  request.interval_bytes = *interval;
  auto raw = take_heap_sample(request, progress);
  if (tty) std::cerr << "\n";
  if (!raw) return fail(kExitFailure, raw.error().describe());
  return report(*raw, path);
}

}  // namespace memvisor
