// Running the JFR printer and streaming its JSON into samples.
#include "runtimes/jvm/jfr_reader.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>

#include "os/spawn.h"

namespace memvisor {
namespace {

using ReaderClock = std::chrono::steady_clock;

constexpr size_t kMaxSamples = 200000;
constexpr size_t kMaxReaderOutput = size_t{1} << 30;
constexpr size_t kMaxReaderErrors = 4096;

// The environment without the variables every JVM obeys and announces on stderr ("Picked up
// JAVA_TOOL_OPTIONS"): the reader runs with its own options.
std::vector<std::string> jfr_reader_environment() {
  std::vector<std::string> env;
  for (std::string& entry : current_environment()) {
    if (entry.rfind("JAVA_TOOL_OPTIONS=", 0) == 0 || entry.rfind("_JAVA_OPTIONS=", 0) == 0 ||
        entry.rfind("JDK_JAVA_OPTIONS=", 0) == 0 || entry.rfind("LD_PRELOAD=", 0) == 0)
      continue;
    env.push_back(std::move(entry));
  }
  return env;
}

struct ReaderRun {
  std::vector<JfrSample> samples;
  std::string errors;  // the reader's stderr, or why its output was refused
  bool ok = false;
};

ReaderRun run_jfr_reader(const std::string& java, const std::string& path, Deadline deadline) {
  ReaderRun run;
  int out_fds[2], err_fds[2];
  // Only memvisor's ends are non-blocking: the reader's PrintStream would drop what a
  // non-blocking stdout refuses.
  if (::pipe2(out_fds, O_CLOEXEC) != 0) {
    run.errors = "pipe failed";
    return run;
  }
  UniqueFd out_read(out_fds[0]), out_write(out_fds[1]);
  if (::pipe2(err_fds, O_CLOEXEC) != 0) {
    run.errors = "pipe failed";
    return run;
  }
  UniqueFd err_read(err_fds[0]), err_write(err_fds[1]);
  for (int fd : {out_read.get(), err_read.get()})
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  SpawnSpec spec;
  // A small, quick JVM: class data sharing, the client compiler, no perf-data file of its own.
  spec.argv = {java,
               "-Xshare:auto",
               "-XX:TieredStopAtLevel=1",
               "-XX:+UseSerialGC",
               "-XX:-UsePerfData",
               "-Xmx512m",
               "-m",
               "jdk.jfr/jdk.jfr.internal.tool.Main",
               "print",
               "--json",
               "--stack-depth",
               "64",
               "--events",
               "jdk.OldObjectSample,jdk.ObjectAllocationSample",
               path};
  spec.env = jfr_reader_environment();
  spec.stdout_fd = out_write.get();
  spec.stderr_fd = err_write.get();
  spec.parent_death_signal = SIGKILL;
  sigset_t none;
  sigemptyset(&none);
  spec.child_sigmask = none;
  auto spawned = spawn_process(spec);
  if (!spawned) {
    run.errors = spawned.error().describe();
    return run;
  }
  out_write.reset();
  err_write.reset();
  const pid_t child = spawned->pid;

  std::string refused;
  JfrEventStream stream([&](std::string_view text) {
    if (!refused.empty()) return;
    const nlohmann::json event = nlohmann::json::parse(text, nullptr, false);
    if (event.is_discarded()) {
      refused = "jfr print wrote an event that is not JSON";
      return;
    }
    auto sample = jfr_sample_from_json(event);
    if (!sample) return;  // another event type, or one without an allocation time
    if (run.samples.size() >= kMaxSamples) {
      refused = "more than 200000 samples in the recording";
      return;
    }
    run.samples.push_back(std::move(*sample));
  });
  size_t total = 0;
  char buffer[65536];
  while (out_read.valid() || err_read.valid()) {
    pollfd fds[2] = {{out_read.get(), POLLIN, 0}, {err_read.get(), POLLIN, 0}};
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - ReaderClock::now());
    if (left.count() <= 0 || ::poll(fds, 2, static_cast<int>(left.count())) == 0) {
      refused = "jfr print did not finish before the timeout";
      break;
    }
    if (fds[0].revents != 0) {
      const ssize_t n = ::read(out_read.get(), buffer, sizeof buffer);
      if (n > 0) {
        total += static_cast<size_t>(n);
        if (total > kMaxReaderOutput) refused = "jfr print wrote more than 1 GiB";
        if (auto fed = stream.feed(std::string_view(buffer, static_cast<size_t>(n))); !fed)
          refused = fed.error().message;
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        out_read.reset();
      }
    }
    if (fds[1].revents != 0) {
      const ssize_t n = ::read(err_read.get(), buffer, sizeof buffer);
      if (n > 0) {
        run.errors.append(
            buffer, std::min(static_cast<size_t>(n),
                             kMaxReaderErrors - std::min(kMaxReaderErrors, run.errors.size())));
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        err_read.reset();
      }
    }
    if (!refused.empty()) break;
  }
  if (!refused.empty()) ::kill(-child, SIGKILL);
  int status = 0;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  if (!refused.empty()) {
    run.errors = refused;
    return run;
  }
  run.ok = WIFEXITED(status) && WEXITSTATUS(status) == 0 && stream.finished();
  if (!run.ok && run.errors.empty())
    run.errors = WIFEXITED(status) ? "exit code " + std::to_string(WEXITSTATUS(status))
                                   : "killed by signal " + std::to_string(WTERMSIG(status));
  return run;
}

std::string first_line(const std::string& text) {
  std::string line = text.substr(0, text.find('\n'));
  return line.size() > 300 ? line.substr(0, 300) : line;
}

}  // namespace

Result<JfrLocalCopy> JfrLocalCopy::create(std::string_view bytes) {
  const char* tmp = std::getenv("TMPDIR");
  std::string dir =
      std::string(tmp != nullptr && *tmp == '/' ? tmp : "/tmp") + "/memvisor-jfr-XXXXXX";
  if (::mkdtemp(dir.data()) == nullptr) return Error{"create a directory for the recording", errno};
  JfrLocalCopy copy;
  copy.dir_ = dir;
  UniqueFd fd(::open(copy.path().c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (!fd.valid()) return Error{"create " + copy.path(), errno};
  while (!bytes.empty()) {
    const ssize_t n = ::write(fd.get(), bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Error{"write " + copy.path(), errno};
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return copy;
}

JfrLocalCopy::~JfrLocalCopy() {
  if (dir_.empty()) return;
  ::unlink(path().c_str());
  ::rmdir(dir_.c_str());
}

std::vector<std::string> jfr_reader_candidates(const JvmTarget& target) {
  std::vector<std::string> out;
  auto add = [&](const std::string& java) {
    if (std::find(out.begin(), out.end(), java) == out.end()) out.push_back(java);
  };
  if (target.same_mount_namespace && !target.java_home.empty()) {
    const std::string own = target.java_home + "/bin/java";
    if (::access(own.c_str(), X_OK) == 0) add(own);
  }
  if (const char* home = std::getenv("JAVA_HOME"); home != nullptr && *home != '\0') {
    const std::string java = std::string(home) + "/bin/java";
    if (::access(java.c_str(), X_OK) == 0) add(java);
  }
  add("java");  // found in PATH by the spawn
  return out;
}

Result<std::vector<JfrSample>> read_jfr_samples(const std::vector<std::string>& javas,
                                                const std::string& path, Deadline deadline) {
  std::string failures;
  for (const std::string& java : javas) {
    ReaderRun run = run_jfr_reader(java, path, deadline);
    if (run.ok) return std::move(run.samples);
    failures += (failures.empty() ? "" : "; ") + java + ": " + first_line(run.errors);
    if (ReaderClock::now() >= deadline) break;
  }
  return Error{
      "read the JFR recording (java -m jdk.jfr/jdk.jfr.internal.tool.Main print): " + failures +
          " (memvisor needs a Java 11+ runtime with the jdk.jfr module: the "
          "JVM's own, $JAVA_HOME or java in PATH)",
      0};
}

}  // namespace memvisor
