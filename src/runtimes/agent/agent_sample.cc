// sample_python and sample_ruby: find the process's agent socket (or say why there is none) and
// run one window through it. The Ruby agent opens its socket only when woken (agent_wake.h).
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "core/proc/environ_text.h"
#include "os/proc.h"
#include "runtimes/agent/agent_client.h"
#include "runtimes/agent/agent_wake.h"
#include "runtimes/runtime_sample.h"

namespace memvisor {
namespace {

std::string read_proc_file(const std::string& path, bool& readable) {
  std::ifstream in(path, std::ios::binary);
  readable = in.good();
  std::ostringstream text;
  if (readable) text << in.rdbuf();
  return text.str();
}

std::vector<std::string> split_cmdline(const std::string& text) {
  std::vector<std::string> argv;
  size_t at = 0;
  while (at < text.size()) {
    const size_t end = std::min(text.find('\0', at), text.size());
    argv.push_back(text.substr(at, end - at));
    at = end + 1;
  }
  return argv;
}

Result<RuntimeProfile> sample_with_agent(RuntimeKind kind, const RuntimeSampleRequest& request,
                                         const SampleProgress& progress) {
  const std::string name = kind == RuntimeKind::ruby ? "Ruby" : "Python";
  const std::string pid = std::to_string(request.pid);
  const std::string base = request.proc_root + "/" + pid;
  struct stat st {};
  if (request.pid <= 0 || ::stat(base.c_str(), &st) != 0) return Error{"no process " + pid, 0};
  bool environ_readable = false, cmdline_readable = false;
  const std::string environ = read_proc_file(base + "/environ", environ_readable);
  const std::string cmdline = read_proc_file(base + "/cmdline", cmdline_readable);
  std::string dir = request.agent_dir;
  if (dir.empty()) {
    if (!environ_readable)
      return Error{"cannot read " + base + "/environ to find the " + name +
                       " agent's socket: sample as root or as the worker's user",
                   EACCES};
    dir = environ_value(environ, kAgentDirVariable).value_or("");
    if (dir.empty())
      return Error{"pid " + pid + " was not started with heap_sampler: no " +
                       std::string(kAgentDirVariable) +
                       " in its environment (set heap_sampler on the service and restart it)",
                   0};
  }
  AgentWindowRequest window;
  window.socket_path = agent_socket_path(dir, request.pid);
  window.expected_pid = request.pid;
  window.duration = request.duration;
  window.timeout = request.timeout;
  window.interval_bytes = request.interval_bytes;
  window.who = "the " + name + " agent of pid " + pid;
  if (window.socket_path.size() >= kAgentMaxSocketPath)
    return Error{"the " + name + " agent's socket path " + window.socket_path +
                     " is too long for a Unix socket, so the agent could not listen: give memvisor "
                     "a shorter --state-dir",
                 ENAMETOOLONG};
  const auto absent_reasons = [&] {
    const auto has_agent_file = [kind](const std::string& agent_dir) {
      const std::string file =
          kind == RuntimeKind::ruby ? "/memvisor_heap_agent.rb" : "/memvisor_heap_agent.py";
      return ::access((agent_dir + file).c_str(), R_OK) == 0;
    };
    return agent_absent_reasons(kind, split_cmdline(cmdline), environ, has_agent_file);
  };
  const bool socket_absent = ::lstat(window.socket_path.c_str(), &st) != 0 && errno == ENOENT;
  if (kind != RuntimeKind::ruby) {
    if (socket_absent)
      return Error{"no " + name + " agent in pid " + pid + " (no socket " + window.socket_path +
                       ")." + absent_reasons(),
                   0};  // the sentence says it all: no ": No such file or directory"
    return run_agent_window(window, progress);
  }
  // Ruby: no socket while idle. Whether the agent can be woken is said at once, before any wait.
  const AgentWakeTarget target{dir, request.pid, request.proc_root};
  const auto explained = [&](Status status) -> Status {
    if (status || status.error().errnum != ENOENT) return status;
    return Error{"no Ruby agent in pid " + pid + " (no " +
                     agent_wake_marker_path(dir, request.pid) +
                     ", which the agent writes at start)." + absent_reasons(),
                 0};
  };
  if (socket_absent)
    if (Status ready = explained(check_agent_wake(target)); !ready) return ready.error();
  window.wake = [&] { return explained(wake_agent(target)); };
  window.wake_wait = std::min(Millis(5000), request.timeout);
  window.wake_failure = [&] {
    auto now = read_proc_stat(request.pid, request.proc_root);
    const bool stopped = now && (now->state == 'T' || now->state == 't');
    return "the Ruby agent of pid " + pid + " did not open " + window.socket_path + " within " +
           format_duration(window.wake_wait) + " of memvisor's SIGURG: " +
           (stopped ? std::string("the process is stopped (state T); continue it first")
                    : std::string("Ruby runs traps on the main thread only, and it did not get "
                                  "there (stuck in a C extension or a native call that does not "
                                  "return to Ruby), or native code replaced the agent's SIGURG "
                                  "handler"));
  };
  auto profile = run_agent_window(window, progress);
  ::unlink(agent_wake_request_path(dir, request.pid).c_str());  // a late trap then does nothing
  return profile;
}

}  // namespace

Result<RuntimeProfile> sample_python(const RuntimeSampleRequest& request,
                                     const SampleProgress& progress) {
  return sample_with_agent(RuntimeKind::python, request, progress);
}

Result<RuntimeProfile> sample_ruby(const RuntimeSampleRequest& request,
                                   const SampleProgress& progress) {
  return sample_with_agent(RuntimeKind::ruby, request, progress);
}

}  // namespace memvisor
