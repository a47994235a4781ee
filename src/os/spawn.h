// Starting a worker: fork + exec in a new process group, stdin from /dev/null, chosen
// stdout/stderr, environment, working directory and user; an exec failure comes back as an Error,
// not a child.
#pragma once

#include <signal.h>
#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "core/result.h"
#include "os/unique_fd.h"

namespace memvisor {

struct UserIdentity {
  uid_t uid = 0;
  gid_t gid = 0;
  std::vector<gid_t> groups;  // supplementary groups
  std::string home;
  std::string name;
};

// Looks a user up by name or numeric uid (getpwnam_r/getpwuid_r + getgrouplist).
Result<UserIdentity> lookup_user(const std::string& name_or_uid);

struct SpawnSpec {
  std::vector<std::string> argv;  // argv[0] is searched in PATH (of `env`) when it has no '/'
  std::vector<std::string> env;   // the complete environment, "KEY=VALUE"
  std::string cwd;                // empty: inherit
  std::optional<UserIdentity> user;
  int stdin_fd = -1;   // -1: /dev/null (workers never read the terminal); else a dup on fd 0
  int stdout_fd = -1;  // -1: inherit; the child gets a dup on fd 1
  int stderr_fd = -1;  // -1: inherit; the child gets a dup on fd 2
  // Extra fds to keep open in the child at the same number (e.g. an inherited socketpair end).
  std::vector<int> keep_fds;
  // Listening sockets handed over at fd 3, 4, … with LISTEN_FDS, LISTEN_FDNAMES (one name per
  // fd) and LISTEN_PID, the child's own pid written after fork: systemd's socket-activation
  // convention (sd_listen_fds(3)). Any LISTEN_* in `env` is replaced. Not with keep_fds.
  std::vector<int> listen_fds;
  std::vector<std::string> listen_fd_names;
  bool new_process_group = true;
  // Signal the child gets when the spawning process dies (PR_SET_PDEATHSIG); 0 for none.
  int parent_death_signal = SIGTERM;
  // Signal mask the child restores before exec (the parent blocks signals for its signalfd).
  std::optional<sigset_t> child_sigmask;
  // A cgroup's cgroup.procs open for writing, or -1: the child writes "0" into it first thing
  // after fork (still with the spawner's credentials), so the program and everything it forks
  // are counted in that cgroup from the start. `cgroup` names it in error messages.
  int cgroup_procs_fd = -1;
  std::string cgroup;
  // Written to the child's /proc/self/oom_score_adj before exec (and before it drops
  // privileges): a child inherits its parent's value, and memvisor keeps its own low. A failure
  // (lowering it needs CAP_SYS_RESOURCE) leaves the inherited value; nothing: not touched.
  std::optional<int> oom_score_adj;
};

struct SpawnedProcess {
  pid_t pid = -1;
  UniqueFd pidfd;
};

// On success the child has exec'd. On failure (command not found, not executable, joining the
// cgroup, chdir or setuid failed) no child is left behind (it has been reaped) and the Error names
// what failed: "execute 'nosuch': No such file or directory".
Result<SpawnedProcess> spawn_process(const SpawnSpec& spec);

// This process's environment as "KEY=VALUE" entries, the starting point of a SpawnSpec's env.
std::vector<std::string> current_environment();

}  // namespace memvisor
