// fork + exec with every allocation and lookup done before fork, so the child only makes
// async-signal-safe calls; child-side failures travel back through a close-on-exec pipe.
#include "os/spawn.h"

#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <climits>
#include <string>

#include "os/pidfd.h"
#include "os/sys_error.h"

namespace memvisor {
namespace {

// What the child reports when a step before exec fails.
enum Step : int {
  kCgroup,
  kStdio,
  kKeepFd,
  kListenFd,
  kSetpgid,
  kChdir,
  kSetgroups,
  kSetgid,
  kSetuid,
  kDeathSig,
  kExec
};
struct ChildFailure {
  int step;
  int err;
  int detail;  // the fd for kKeepFd
};

Error child_error(const ChildFailure& failure, const SpawnSpec& spec, const std::string& path) {
  std::string what;
  switch (failure.step) {
    case kCgroup:
      what = (spec.cgroup.empty() ? std::string("join its cgroup") : "join cgroup " + spec.cgroup) +
             " for '" + path + "'";
      break;
    case kStdio:
      what = "redirect stdio of '" + path + "'";
      break;
    case kKeepFd:
      what = "keep fd " + std::to_string(failure.detail) + " for '" + path + "'";
      break;
    case kListenFd:
      what = "pass listening socket " + std::to_string(failure.detail) + " to '" + path + "'";
      break;
    case kSetpgid:
      what = "setpgid for '" + path + "'";
      break;
    case kChdir:
      what = "chdir '" + spec.cwd + "'";
      break;
    case kSetgroups:
      what = "setgroups for user '" + spec.user->name + "'";
      break;
    case kSetgid:
      what = "setgid " + std::to_string(spec.user->gid);
      break;
    case kSetuid:
      what = "setuid " + std::to_string(spec.user->uid);
      break;
    case kDeathSig:
      what = "set parent death signal for '" + path + "'";
      break;
    default:
      what = "execute '" + path + "'";
      break;
  }
  return Error{what, failure.err};
}

[[noreturn]] void fail(int report_fd, Step step, int detail = 0) {
  const ChildFailure failure{step, errno, detail};
  [[maybe_unused]] const ssize_t n = ::write(report_fd, &failure, sizeof failure);
  ::_exit(127);
}

// execve's own view: a regular file with an execute bit is runnable.
int check_executable(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) < 0) return errno;
  if (!S_ISREG(st.st_mode) || ::access(path.c_str(), X_OK) < 0) return EACCES;
  return 0;
}

std::string absolute(const std::string& path, const std::string& base) {
  if (!path.empty() && path[0] == '/') return path;
  return base + "/" + path;
}

// Resolves argv[0] like execvp would in the child (with the child's PATH and cwd), before fork.
Result<std::string> resolve_command(const SpawnSpec& spec) {
  const std::string& name = spec.argv[0];
  char cwd_buf[PATH_MAX];
  std::string base = ::getcwd(cwd_buf, sizeof cwd_buf) ? cwd_buf : ".";
  if (!spec.cwd.empty()) base = absolute(spec.cwd, base);

  if (name.find('/') != std::string::npos) {
    std::string path = absolute(name, base);
    if (const int err = check_executable(path); err != 0) {
      return Error{"execute '" + name + "'", err};
    }
    return path;
  }
  std::string search = "/usr/local/bin:/usr/bin:/bin";
  for (const std::string& entry : spec.env) {
    if (entry.starts_with("PATH=")) search = entry.substr(5);
  }
  int err = ENOENT;
  size_t start = 0;
  for (;;) {
    const size_t end = search.find(':', start);
    std::string dir = search.substr(start, end == std::string::npos ? end : end - start);
    const std::string path = absolute((dir.empty() ? "." : dir) + "/" + name, base);
    const int result = check_executable(path);
    if (result == 0) return path;
    if (result == EACCES) err = EACCES;  // like execvp: keep looking, remember it existed
    if (end == std::string::npos) break;
    start = end + 1;
  }
  return Error{"execute '" + name + "'", err};
}

std::vector<char*> c_strings(const std::vector<std::string>& strings) {
  std::vector<char*> result;
  result.reserve(strings.size() + 1);
  // execve takes char* const[] for historical reasons; it never writes through them.
  for (const std::string& s : strings) result.push_back(const_cast<char*>(s.c_str()));
  result.push_back(nullptr);
  return result;
}

// fcntl/dup2 only: runs in the forked child.
int dup_high(int fd, int lowest = 3) {
  return fd < 0 ? -1 : ::fcntl(fd, F_DUPFD_CLOEXEC, lowest);
}

// The environment of a child that gets listening sockets, built before fork: LISTEN_PID's value
// is a run of spaces the child overwrites with its pid (write_pid), since it knows it only then.
constexpr size_t kPidDigits = 20;

std::vector<std::string> environment_with_listen_fds(const SpawnSpec& spec, size_t& pid_entry) {
  std::vector<std::string> env;
  env.reserve(spec.env.size() + 3);
  for (const std::string& entry : spec.env) {
    if (entry.starts_with("LISTEN_PID=") || entry.starts_with("LISTEN_FDS=") ||
        entry.starts_with("LISTEN_FDNAMES=")) {
      continue;
    }
    env.push_back(entry);
  }
  if (spec.listen_fds.empty()) return env;
  std::string names;
  for (size_t i = 0; i < spec.listen_fds.size(); ++i) {
    if (i > 0) names += ':';
    names += i < spec.listen_fd_names.size() ? spec.listen_fd_names[i] : "unknown";
  }
  env.push_back("LISTEN_FDS=" + std::to_string(spec.listen_fds.size()));
  env.push_back("LISTEN_FDNAMES=" + names);
  pid_entry = env.size();
  env.push_back("LISTEN_PID=" + std::string(kPidDigits, ' '));
  return env;
}

// Async-signal-safe: digits of `pid` over the spaces after "LISTEN_PID=", then the end.
void write_pid(char* entry, pid_t pid) {
  char* value = entry + sizeof("LISTEN_PID=") - 1;
  char digits[kPidDigits];
  size_t n = 0;
  auto rest = static_cast<unsigned long>(pid);
  do {
    digits[n++] = static_cast<char>('0' + rest % 10);
    rest /= 10;
  } while (rest != 0 && n < kPidDigits);
  for (size_t i = 0; i < n; ++i) value[i] = digits[n - 1 - i];
  value[n] = '\0';
}

// Puts listen_fds[i] at 3 + i. Every source is first copied above the target range, so that a
// source already sitting in 3 .. 3 + n - 1 is not overwritten by an earlier dup2.
bool place_listen_fds(const std::vector<int>& fds, std::vector<int>& scratch, int& failed_fd) {
  const int count = static_cast<int>(fds.size());
  for (int i = 0; i < count; ++i) {
    scratch[static_cast<size_t>(i)] = dup_high(fds[static_cast<size_t>(i)], 3 + count);
    if (scratch[static_cast<size_t>(i)] < 0) {
      failed_fd = fds[static_cast<size_t>(i)];
      return false;
    }
  }
  for (int i = 0; i < count; ++i) {
    // dup2 clears close-on-exec on the new fd; the scratch copies keep it and vanish at exec.
    if (::dup2(scratch[static_cast<size_t>(i)], 3 + i) < 0) {
      failed_fd = fds[static_cast<size_t>(i)];
      return false;
    }
  }
  return true;
}

// Async-signal-safe (open, write, to_chars on the stack). Best effort: see SpawnSpec.
void set_child_oom_score_adj(int value) {
  char text[16];
  const auto end = std::to_chars(text, text + sizeof text, value).ptr;
  const int fd = ::open("/proc/self/oom_score_adj", O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;
  [[maybe_unused]] const ssize_t written = ::write(fd, text, static_cast<size_t>(end - text));
  ::close(fd);
}

// What the child needs besides the spec, all allocated before fork.
struct ChildPlan {
  const char* path;
  char* const* argv;
  char* const* envp;
  char* listen_pid_entry;     // inside envp, or null
  std::vector<int>* scratch;  // listen_fds.size() slots
  int devnull;
  int report_fd;
  pid_t parent;
};

[[noreturn]] void run_child(const SpawnSpec& spec, const ChildPlan& plan) {
  int report_fd = plan.report_fd;
  // Move everything out of 0..2 first so the dup2s below cannot clobber one another, and out of
  // the listening sockets' range 3 .. 3 + n - 1.
  const int lowest = 3 + static_cast<int>(spec.listen_fds.size());
  if (report_fd < lowest) report_fd = dup_high(report_fd, lowest);
  if (report_fd < 0) ::_exit(127);
  // First, so that every page the child touches from here on is charged to its cgroup.
  if (spec.cgroup_procs_fd >= 0) {
    const ssize_t written = ::write(spec.cgroup_procs_fd, "0", 1);
    if (written != 1) {
      if (written >= 0) errno = EIO;
      fail(report_fd, kCgroup);
    }
  }
  if (spec.oom_score_adj) set_child_oom_score_adj(*spec.oom_score_adj);
  const int in = dup_high(plan.devnull);
  const int out = dup_high(spec.stdout_fd);
  const int err = dup_high(spec.stderr_fd);
  if (in < 0 || (spec.stdout_fd >= 0 && out < 0) || (spec.stderr_fd >= 0 && err < 0)) {
    fail(report_fd, kStdio);
  }
  if (::dup2(in, 0) < 0) fail(report_fd, kStdio);
  if (out >= 0 && ::dup2(out, 1) < 0) fail(report_fd, kStdio);
  if (err >= 0 && ::dup2(err, 2) < 0) fail(report_fd, kStdio);
  for (const int fd : spec.keep_fds) {
    const int flags = ::fcntl(fd, F_GETFD);
    if (flags < 0 || ::fcntl(fd, F_SETFD, flags & ~FD_CLOEXEC) < 0) fail(report_fd, kKeepFd, fd);
  }
  if (!spec.listen_fds.empty()) {
    int failed_fd = -1;
    if (!place_listen_fds(spec.listen_fds, *plan.scratch, failed_fd)) {
      fail(report_fd, kListenFd, failed_fd);
    }
    write_pid(plan.listen_pid_entry, ::getpid());
  }
  if (spec.new_process_group && ::setpgid(0, 0) < 0) fail(report_fd, kSetpgid);
  if (!spec.cwd.empty() && ::chdir(spec.cwd.c_str()) < 0) fail(report_fd, kChdir);
  if (spec.user) {
    if (::setgroups(spec.user->groups.size(), spec.user->groups.data()) < 0) {
      fail(report_fd, kSetgroups);
    }
    if (::setgid(spec.user->gid) < 0) fail(report_fd, kSetgid);
    if (::setuid(spec.user->uid) < 0) fail(report_fd, kSetuid);
  }
  // After setuid/setgid: changing credentials clears the parent-death signal.
  if (spec.parent_death_signal != 0) {
    if (::prctl(PR_SET_PDEATHSIG, spec.parent_death_signal) < 0) fail(report_fd, kDeathSig);
    if (::getppid() != plan.parent) ::_exit(127);  // the parent died before prctl took effect
  }
  // Dispositions first, then the mask, so no pending signal reaches an inherited handler.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) ::sigaction(sig, &dfl, nullptr);
  if (spec.child_sigmask) ::sigprocmask(SIG_SETMASK, &*spec.child_sigmask, nullptr);
  ::execve(plan.path, plan.argv, plan.envp);
  fail(report_fd, kExec);
}

}  // namespace

Result<SpawnedProcess> spawn_process(const SpawnSpec& spec) {
  if (spec.argv.empty()) return Error{"execute: empty command", EINVAL};
  if (!spec.listen_fds.empty() && !spec.keep_fds.empty()) {
    return Error{"execute: listening sockets and kept fds do not mix", EINVAL};
  }
  auto path = resolve_command(spec);
  if (!path) return path.error();
  const std::vector<char*> argv = c_strings(spec.argv);
  size_t pid_entry = 0;
  const std::vector<std::string> env = environment_with_listen_fds(spec, pid_entry);
  const std::vector<char*> envp = c_strings(env);
  std::vector<int> scratch(spec.listen_fds.size(), -1);

  UniqueFd devnull(spec.stdin_fd >= 0 ? ::fcntl(spec.stdin_fd, F_DUPFD_CLOEXEC, 0)
                                      : ::open("/dev/null", O_RDONLY | O_CLOEXEC));
  if (!devnull.valid()) return sys_error("open /dev/null");
  int report[2];
  if (::pipe2(report, O_CLOEXEC) < 0) return sys_error("create exec status pipe for", *path);
  UniqueFd report_read(report[0]);
  UniqueFd report_write(report[1]);

  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) return sys_error("fork for", *path);
  if (pid == 0) {
    const ChildPlan plan{path->c_str(),      argv.data(),
                         envp.data(),        spec.listen_fds.empty() ? nullptr : envp[pid_entry],
                         &scratch,           devnull.get(),
                         report_write.get(), parent};
    run_child(spec, plan);
  }
  report_write.reset();
  devnull.reset();

  ChildFailure failure{};
  ssize_t n;
  do {
    n = ::read(report_read.get(), &failure, sizeof failure);
  } while (n < 0 && errno == EINTR);
  if (n != 0) {
    // The child never exec'd and exits at once: reap it so no zombie is left behind.
    const int read_err = errno;
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    if (n == static_cast<ssize_t>(sizeof failure)) return child_error(failure, spec, *path);
    return Error{"read exec status of '" + *path + "'", n < 0 ? read_err : EPROTO};
  }

  // Not yet reaped, so the pid cannot have been reused: this pidfd is the child's.
  auto pidfd = pidfd_open(pid);
  if (!pidfd) {
    ::kill(pid, SIGKILL);
    while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
    }
    return pidfd.error();
  }
  return SpawnedProcess{pid, std::move(*pidfd)};
}

Result<UserIdentity> lookup_user(const std::string& name_or_uid) {
  const bool numeric =
      !name_or_uid.empty() && name_or_uid.find_first_not_of("0123456789") == std::string::npos;
  uid_t uid = 0;
  if (numeric) {
    const char* end = name_or_uid.data() + name_or_uid.size();
    if (std::from_chars(name_or_uid.data(), end, uid).ptr != end) {
      return Error{"unknown user '" + name_or_uid + "'", 0};
    }
  }
  std::vector<char> buf(16384);
  passwd entry{};
  passwd* found = nullptr;
  for (;;) {
    const int rc = numeric
                       ? ::getpwuid_r(uid, &entry, buf.data(), buf.size(), &found)
                       : ::getpwnam_r(name_or_uid.c_str(), &entry, buf.data(), buf.size(), &found);
    if (rc == ERANGE && buf.size() < (1u << 24)) {
      buf.resize(buf.size() * 2);
      continue;
    }
    if (rc != 0) return Error{"look up user '" + name_or_uid + "'", rc};
    break;
  }
  if (found == nullptr) return Error{"unknown user '" + name_or_uid + "'", 0};

  UserIdentity user{found->pw_uid, found->pw_gid, {}, found->pw_dir, found->pw_name};
  int count = 16;
  for (int attempt = 0; attempt < 8; ++attempt) {
    user.groups.resize(static_cast<size_t>(count));
    const int wanted = count;
    if (::getgrouplist(found->pw_name, found->pw_gid, user.groups.data(), &count) >= 0) {
      user.groups.resize(static_cast<size_t>(count));
      return user;
    }
    if (count <= wanted) count = wanted * 2;  // getgrouplist stores the needed size in count
  }
  return Error{"list groups of user '" + user.name + "'", ERANGE};
}

std::vector<std::string> current_environment() {
  std::vector<std::string> env;
  for (char** entry = environ; *entry != nullptr; ++entry) env.emplace_back(*entry);
  return env;
}

}  // namespace memvisor
