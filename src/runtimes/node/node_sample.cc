// sample_node(): a heap sample of a live Node.js process through its V8 inspector. SIGUSR1 opens
// the inspector (on the loopback port memvisor's spawn-time NODE_OPTIONS chose), a WebSocket
// session runs V8's sampling heap profiler for the window, and the inspector is closed again.
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <thread>

#include "core/proc/environ_text.h"
#include "core/proc/runtime_kind.h"
#include "core/units.h"
#include "os/files.h"
#include "runtimes/node/inspector_session.h"
#include "runtimes/node/node_process.h"
#include "runtimes/node/node_profile.h"
#include "runtimes/proc_listeners.h"
#include "runtimes/runtime_sample.h"

namespace memvisor {
namespace nodejs {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// V8's own default interval. The CLI's default (512 KiB) is tuned for malloc; JavaScript objects
// are tens of bytes, and a short window at 512 KiB holds too few samples to rank functions.
constexpr uint64_t kNodeMaxInterval = 32 * 1024;
// Below this the sampler's cost per sample (a stack walk, a weak handle) would slow the worker.
constexpr uint64_t kNodeMinInterval = 1024;
// How long Node may take to open its inspector after SIGUSR1: its handler only wakes a thread,
// which interrupts JavaScript at the next safe point; only a main thread blocked in a system call
// takes longer.
constexpr milliseconds kInspectorOpenBound{5000};
// Kept free at the window's end for the GC, reading the profile and closing the inspector (at
// most half of the time left).
constexpr milliseconds kCollectReserve{5000};
constexpr milliseconds kProgressEvery{200};

// Closes the inspector, after the answer went out: the process's own _debugEnd() (there in Node
// 18 and 20), else inspector.close() (require comes with the command-line API).
constexpr const char* kCloseInspector =
    "(() => {"
    " let end = typeof process._debugEnd === 'function' ? () => process._debugEnd() : null;"
    " if (!end && typeof require === 'function') {"
    "  const inspector = require('inspector');"
    "  if (typeof inspector.close === 'function') end = () => inspector.close();"
    " }"
    " if (!end) return false;"
    " setImmediate(() => { try { end(); } catch (e) {} });"
    " return true;"
    "})()";

Deadline earliest(Deadline a, Deadline b) {
  return std::min(a, b);
}

std::string where_of(const TcpListener& listener) {
  const std::string address = connect_address(listener);
  return (listener.v6 ? "[" + address + "]" : address) + ":" + std::to_string(listener.port);
}

struct NodeTarget {
  std::vector<std::string> options;  // node's own (command line and NODE_OPTIONS)
  std::string status;                // /proc/PID/status
};

// The process exists, runs Node, and shares our network namespace (its inspector listens on its
// loopback, which must be ours to reach).
Result<NodeTarget> check_node_process(int pid, const std::string& proc_root) {
  const std::string dir = proc_root + "/" + std::to_string(pid);
  const std::string who = "pid " + std::to_string(pid);
  auto status = read_file(dir + "/status");
  if (!status) return Error{"no process " + std::to_string(pid), 0};
  if (parse_process_state(*status) == 'Z') return Error{who + " has exited (a zombie)", 0};
  const std::string exe = read_link(dir + "/exe");
  auto maps = read_file(dir + "/maps");
  if (!maps)
    return Error{"cannot read " + dir +
                     "/maps (memvisor sample must run as the worker's user or "
                     "root)",
                 maps.error().errnum};
  if (runtime_from_process(exe, *maps) != RuntimeKind::node)
    return Error{who + " is not a Node.js process (its executable is " +
                     (exe.empty() ? std::string("unknown") : exe) + ")",
                 0};
  const std::string ours = read_link(proc_root + "/self/ns/net");
  const std::string theirs = read_link(dir + "/ns/net");
  if (!ours.empty() && !theirs.empty() && ours != theirs)
    return Error{"node " + who +
                     " runs in another network namespace: its inspector's loopback port cannot be "
                     "reached from here",
                 0};
  NodeTarget target;
  target.status = std::move(*status);
  auto cmdline = read_file(dir + "/cmdline");
  auto environ = read_file(dir + "/environ");
  target.options =
      node_options_of(split_cmdline(cmdline ? *cmdline : ""),
                      environ_value(environ ? *environ : "", "NODE_OPTIONS").value_or(""));
  return target;
}

// The first of `listeners` whose /json/list answers with a debugger target.
std::optional<TcpListener> find_answering_inspector(const std::vector<TcpListener>& listeners,
                                                    bool loopback_only, Deadline deadline) {
  for (const TcpListener& listener : listeners) {
    if (loopback_only && !is_loopback(listener)) continue;
    const Deadline probe = earliest(deadline, Clock::now() + milliseconds(1000));
    if (InspectorSession::open(connect_address(listener), listener.port, probe)) return listener;
  }
  return std::nullopt;
}

struct OpenedInspector {
  TcpListener listener;
  bool close_after = false;  // ours to close when done
  bool was_open = false;     // found open rather than opened by our SIGUSR1
};

// The inspector's listener: already open (started with --inspect), else opened with SIGUSR1 and
// told apart from the app's own listeners as the one that was not there before.
Result<OpenedInspector> open_inspector(int pid, const NodeTarget& target,
                                       const std::string& proc_root, Deadline deadline,
                                       const SampleProgress& progress) {
  const std::string who = "node pid " + std::to_string(pid);
  auto before = process_listeners(pid, proc_root);
  if (!before)
    return Error{"cannot read the sockets of " + who + ": " + before.error().describe() +
                     " (memvisor sample must run as the worker's user or root)",
                 0};
  if (inspector_opened_at_start(target.options)) {
    if (auto found = find_answering_inspector(*before, false, deadline))
      return OpenedInspector{*found, false, true};
  }
  const auto disposition = parse_signal_disposition(target.status, SIGUSR1);
  if (!disposition) return Error{"cannot read the signal masks of " + who, 0};
  if (disposition->ignored)
    return Error{who + " ignores SIGUSR1, so its inspector cannot be opened", 0};
  if (!disposition->caught)
    return Error{who +
                     " has no SIGUSR1 handler (run with --disable-sigusr1, or a Node without the "
                     "inspector): SIGUSR1 would end it, so it is not sent",
                 0};
  if (::kill(pid, SIGUSR1) != 0) return Error::from_errno("send SIGUSR1 to " + who);

  const auto start = Clock::now();
  const Deadline bound = earliest(deadline, start + kInspectorOpenBound);
  auto last_progress = start - kProgressEvery;
  for (;;) {
    auto now_listening = process_listeners(pid, proc_root);
    if (!now_listening) return Error{who + " ended while its inspector opened", 0};
    for (const TcpListener& listener : *now_listening) {
      const bool known = std::any_of(before->begin(), before->end(), [&](const TcpListener& old) {
        return old.inode == listener.inode;
      });
      if (!known) return OpenedInspector{listener, true, false};
    }
    const auto now = Clock::now();
    if (now >= bound) break;
    if (progress && now - last_progress >= kProgressEvery) {
      last_progress = now;
      progress(Millis(0), "waiting for the inspector");
    }
    std::this_thread::sleep_for(milliseconds(20));
  }
  // Open before we came: one of the loopback listeners that were already there answers as an
  // inspector. The process was not started with it, so it is most likely a sample's that ended
  // before closing it (killed at its timeout): closed after use, since an open inspector lets
  // any local user run code in the worker.
  if (auto found = find_answering_inspector(*before, true, deadline))
    return OpenedInspector{*found, true, true};
  std::string error = who + " did not open its inspector within " +
                      format_duration(kInspectorOpenBound) +
                      " of SIGUSR1 (the app may handle SIGUSR1 itself, or run with "
                      "--disable-sigusr1 / without the inspector)";
  if (!inspect_port_set(target.options))
    error +=
        "; it was not started with memvisor's heap_sampler setup "
        "(--inspect-port=127.0.0.1:0), so Node tried 127.0.0.1:9229, which may be taken";
  return Error{error, 0};
}

struct Recording {
  nlohmann::json profile;
  double window_s = 0;
  bool cut_short = false;  // the window ended before its duration
};

// The window itself: sampling from startSampling to stopSampling, with a full GC before the
// profile is read so that it holds what is still alive.
Result<Recording> record(InspectorSession& session, uint64_t interval, Millis duration,
                         Deadline deadline, const SampleProgress& progress) {
  const Deadline step = earliest(deadline, Clock::now() + milliseconds(10000));
  // Asked so that an exiting worker is not held: Node then waits for sessions to leave.
  (void)session.call("NodeRuntime.notifyWhenWaitingForDisconnect", {{"enabled", true}}, step);
  if (auto enabled = session.call("HeapProfiler.enable", nlohmann::json::object(), step); !enabled)
    return enabled.error();
  auto started = session.call("HeapProfiler.startSampling",
                              {{"samplingInterval", interval},
                               {"includeObjectsCollectedByMajorGC", false},
                               {"includeObjectsCollectedByMinorGC", false}},
                              step);
  if (!started) return started.error();
  const auto window_start = Clock::now();
  Recording out;
  Deadline window_end = window_start + duration;
  // Room to read the profile before the deadline: 5 s, or half of what is left when less.
  const auto reserve = std::min<Clock::duration>(kCollectReserve, (deadline - window_start) / 2);
  if (window_end > deadline - reserve) {
    window_end = std::max(window_start, deadline - reserve);
    out.cut_short = true;
  }
  for (;;) {
    const auto now = Clock::now();
    if (now >= window_end) break;
    if (progress) progress(std::chrono::duration_cast<Millis>(now - window_start), "recording");
    auto open = session.pump(earliest(window_end, now + kProgressEvery));
    if (!open) return open.error();
    if (!*open)
      return Error{"the inspector closed the connection during the window (did the process exit?)",
                   0};
    // Node waits at exit for attached sessions to leave: leave at once. What its heap holds
    // while it tears itself down is not the app's (the globals are already unreachable).
    if (session.waiting_for_disconnect())
      return Error{
          "the process began to exit " +
              format_duration(std::chrono::duration_cast<Millis>(Clock::now() - window_start)) +
              " into the window: no sample",
          0};
  }
  out.window_s = std::chrono::duration<double>(Clock::now() - window_start).count();
  if (progress)
    progress(std::chrono::duration_cast<Millis>(Clock::now() - window_start),
             "reading the profile");
  if (auto collected =
          session.call("HeapProfiler.collectGarbage", nlohmann::json::object(), deadline);
      !collected)
    return collected.error();
  auto stopped = session.call("HeapProfiler.stopSampling", nlohmann::json::object(), deadline);
  if (!stopped) return stopped.error();
  if (!stopped->contains("profile") || !(*stopped)["profile"].is_object())
    return Error{"HeapProfiler.stopSampling answered no profile", 0};
  out.profile = std::move((*stopped)["profile"]);
  (void)session.call("HeapProfiler.disable", nlohmann::json::object(),
                     earliest(deadline, Clock::now() + milliseconds(2000)));
  return out;
}

// Closes the inspector we opened; "" when it is closed, else why not.
std::string close_inspector(InspectorSession& session, int pid, const TcpListener& listener,
                            const std::string& proc_root, Deadline deadline) {
  const Deadline bound = earliest(deadline, Clock::now() + milliseconds(3000));
  auto closing = session.call("Runtime.evaluate",
                              {{"expression", kCloseInspector},
                               {"includeCommandLineAPI", true},
                               {"returnByValue", true},
                               {"silent", true}},
                              bound);
  bool scheduled = false;
  if (closing && closing->contains("result") && (*closing)["result"].is_object()) {
    const auto value = (*closing)["result"].find("value");
    scheduled = value != (*closing)["result"].end() && value->is_boolean() && *value == true;
  }
  if (scheduled) session.wait_for_peer_close(bound);
  session.close(bound);
  // Closed once its listening socket is gone from the process.
  for (;;) {
    auto inodes = process_socket_inodes(pid, proc_root);
    if (!inodes || !inodes->count(listener.inode)) return "";
    if (Clock::now() >= bound) break;
    std::this_thread::sleep_for(milliseconds(20));
  }
  return "the inspector could not be closed (" +
         (closing ? std::string(scheduled ? "it did not stop" : "no way to stop it was found")
                  : closing.error().describe()) +
         "): it stays open on " + where_of(listener) + " until the process ends";
}

uint64_t node_interval(uint64_t requested) {
  return std::clamp(requested, kNodeMinInterval, kNodeMaxInterval);
}

RuntimeProfile profile_of_recording(const Recording& recording, uint64_t requested,
                                    uint64_t interval) {
  RuntimeProfile profile;
  profile.runtime = "node";
  profile.method =
      "V8 sampling heap profiler through the inspector (HeapProfiler.startSampling), one sample "
      "per " +
      format_size(interval) +
      " allocated on average; kept what survived a full GC at the window's end";
  profile.covers =
      "the JavaScript heap of the main thread's V8 isolate; Buffers' and native addons' memory "
      "outside it is seen by the native sampler";
  profile.window_s = recording.window_s;
  profile.complete = !recording.cut_short;
  profile.interval_bytes = interval;
  profile.allocated_known = false;
  profile.retained_known = true;
  profile.caveats = {
      "retained only: V8's sampler drops a sample when its object is collected, so what was "
      "allocated and freed during the window is not known",
      "V8 records functions, not statements: file:line is the first line of the charged function",
      "V8 records the physical stack: a function TurboFan inlined into its caller is charged to "
      "that caller",
      "no types: V8's sampler does not record the objects' constructors",
      "counts are V8's samples, not objects: the protocol gives each sample's weight, not its "
      "object's size",
      "objects allocated between the final GC and the end of sampling (one event-loop turn) count "
      "as retained",
  };
  if (interval != requested)
    profile.caveats.push_back("the interval is " + format_size(interval) + ", not the " +
                              format_size(requested) +
                              " asked: V8 samples JavaScript's small objects at 1 KiB to 32 KiB "
                              "(--interval's default suits malloc)");
  if (recording.cut_short)
    profile.caveats.insert(profile.caveats.begin(),
                           "the window was cut short to leave time before --timeout to read the "
                           "profile");
  return profile;
}

Result<RuntimeProfile> sample(const RuntimeSampleRequest& request, const SampleProgress& progress) {
  const Deadline deadline = Clock::now() + request.timeout;
  auto target = check_node_process(request.pid, request.proc_root);
  if (!target) return target.error();
  auto inspector = open_inspector(request.pid, *target, request.proc_root, deadline, progress);
  if (!inspector) return inspector.error();
  const std::string who = "node pid " + std::to_string(request.pid);
  const std::string where = where_of(inspector->listener);

  auto session =
      InspectorSession::open(connect_address(inspector->listener), inspector->listener.port,
                             earliest(deadline, Clock::now() + milliseconds(10000)));
  if (!session) {
    std::string error = who + ": " + session.error().describe();
    if (inspector->close_after) error += " (its inspector stays open on " + where + ")";
    return Error{error, 0};
  }
  const uint64_t interval = node_interval(request.interval_bytes);
  auto recording = record(*session, interval, request.duration, deadline, progress);
  std::string not_closed;
  const bool exiting = session->waiting_for_disconnect();
  if (inspector->close_after && !exiting && !session->closed_by_peer())
    not_closed =
        close_inspector(*session, request.pid, inspector->listener, request.proc_root, deadline);
  else
    session->close(earliest(deadline, Clock::now() + milliseconds(500)));
  if (!recording) {
    std::string error = who + ": " + recording.error().describe();
    if (!not_closed.empty()) error += "; " + not_closed;
    return Error{error, 0};
  }

  NodeProfileTotals totals;
  auto entries = entries_from_sampling_profile(recording->profile, &totals);
  if (!entries) return Error{who + ": " + entries.error().message, 0};
  RuntimeProfile profile = profile_of_recording(*recording, request.interval_bytes, interval);
  profile.pid = static_cast<uint32_t>(request.pid);
  profile.entries = std::move(*entries);
  if (totals.bytes > 0 && totals.runtime_site_bytes >= 0.25 * totals.bytes)
    profile.caveats.push_back(
        std::to_string(std::lround(100 * totals.runtime_site_bytes / totals.bytes)) +
        "% of the retained bytes have no frame of the app's own code: Node's internals (or the "
        "app's code TurboFan inlined into them) allocated them");
  if (inspector->was_open)
    profile.caveats.push_back("the inspector was already open on " + where +
                              (inspector->close_after
                                   ? ", not since the start (a sample's that could not close it?): "
                                     "it was used, and closed"
                                   : " (the process was started with --inspect): it was used, "
                                     "and left open"));
  if (!not_closed.empty()) profile.caveats.insert(profile.caveats.begin(), not_closed);
  return profile;
}

}  // namespace
}  // namespace nodejs

Result<RuntimeProfile> sample_node(const RuntimeSampleRequest& request,
                                   const SampleProgress& progress) {
  return nodejs::sample(request, progress);
}

}  // namespace memvisor
