// spawn_process with real children: environment, PATH, cwd, fds, users, and failures that leave
// no child behind.
#include "os/spawn.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include "os/files.h"
#include "os/instance_cgroups.h"
#include "os/pidfd.h"
#include "os/test_temp_dir.h"

namespace memvisor {
namespace {

const std::vector<std::string> kEnv = {"PATH=/usr/bin:/bin"};

// Designated initializers would trip GCC 12's -Wmissing-field-initializers, hence a builder.
SpawnSpec command(std::vector<std::string> argv, std::vector<std::string> env = kEnv) {
  SpawnSpec spec;
  spec.argv = std::move(argv);
  spec.env = std::move(env);
  return spec;
}

struct Pipe {
  UniqueFd read;
  UniqueFd write;
  static Pipe make() {
    int fds[2];
    EXPECT_EQ(::pipe2(fds, O_CLOEXEC), 0);
    return Pipe{UniqueFd(fds[0]), UniqueFd(fds[1])};
  }
};

std::string read_all(int fd) {
  std::string out;
  char buf[256];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof buf)) > 0) out.append(buf, static_cast<size_t>(n));
  return out;
}

int reap(pid_t pid) {
  int status = -1;
  EXPECT_EQ(::waitpid(pid, &status, 0), pid);
  return status;
}

// Runs argv with stdout captured; returns what it printed.
std::string run_captured(SpawnSpec spec) {
  Pipe out = Pipe::make();
  spec.stdout_fd = out.write.get();
  auto child = spawn_process(spec);
  EXPECT_TRUE(child.ok()) << child.error().describe();
  if (!child.ok()) return "";
  out.write.reset();
  std::string printed = read_all(out.read.get());
  EXPECT_EQ(reap(child->pid), 0);
  return printed;
}

void expect_no_children() {
  errno = 0;
  EXPECT_EQ(::waitpid(-1, nullptr, WNOHANG), -1);
  EXPECT_EQ(errno, ECHILD);
}

TEST(Spawn, PassesTheEnvironmentAndCapturesStdout) {
  EXPECT_EQ(run_captured(command({"sh", "-c", "echo $FOO"}, {"PATH=/usr/bin:/bin", "FOO=bar"})),
            "bar\n");
}

TEST(Spawn, SearchesThePathOfTheChildEnvironment) {
  TestTempDir dir;
  ASSERT_TRUE(dir.ok());
  std::ofstream(dir / "mytool") << "#!/bin/sh\necho tool\n";
  ASSERT_EQ(::chmod((dir / "mytool").c_str(), 0755), 0);
  EXPECT_EQ(run_captured(command({"mytool"}, {"PATH=/nonexistent:" + dir.path()})), "tool\n");
}

TEST(Spawn, MissingCommandFailsWithoutForking) {
  auto child = spawn_process(command({"memvisor-no-such-command"}));
  ASSERT_FALSE(child.ok());
  EXPECT_EQ(child.error().errnum, ENOENT);
  EXPECT_EQ(child.error().describe(),
            "execute 'memvisor-no-such-command': No such file or directory");
  expect_no_children();
}

TEST(Spawn, NonExecutableFileIsPermissionDenied) {
  TestTempDir dir;
  ASSERT_TRUE(dir.ok());
  std::ofstream(dir / "data") << "not a program\n";
  auto child = spawn_process(command({dir / "data"}));
  ASSERT_FALSE(child.ok());
  EXPECT_EQ(child.error().errnum, EACCES);
  EXPECT_EQ(child.error().message, "execute '" + (dir / "data") + "'");
  expect_no_children();
}

TEST(Spawn, ExecFailureInTheChildIsReportedAndReaped) {
  TestTempDir dir;
  ASSERT_TRUE(dir.ok());
  std::ofstream(dir / "garbage") << "\x7f\x01\x02 not a binary";
  ASSERT_EQ(::chmod((dir / "garbage").c_str(), 0755), 0);
  auto child = spawn_process(command({dir / "garbage"}));
  ASSERT_FALSE(child.ok());
  EXPECT_EQ(child.error().errnum, ENOEXEC);
  EXPECT_EQ(child.error().message, "execute '" + (dir / "garbage") + "'");
  expect_no_children();
}

TEST(Spawn, ChdirFailureIsReportedAndReaped) {
  SpawnSpec spec = command({"/bin/true"});
  spec.cwd = "/nope";
  auto child = spawn_process(spec);
  ASSERT_FALSE(child.ok());
  EXPECT_EQ(child.error().describe(), "chdir '/nope': No such file or directory");
  expect_no_children();
}

TEST(Spawn, AppliesTheWorkingDirectory) {
  TestTempDir dir;
  ASSERT_TRUE(dir.ok());
  SpawnSpec spec = command({"sh", "-c", "pwd"});
  spec.cwd = dir.path();
  EXPECT_EQ(run_captured(spec), dir.path() + "\n");
}

TEST(Spawn, ChildLeadsItsOwnProcessGroupAndDiesByPidfd) {
  auto child = spawn_process(command({"sleep", "10"}));
  ASSERT_TRUE(child.ok()) << child.error().describe();
  EXPECT_EQ(::getpgid(child->pid), child->pid);
  ASSERT_TRUE(pidfd_signal(child->pidfd.get(), SIGKILL).ok());
  const int status = reap(child->pid);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
  Status after = pidfd_signal(child->pidfd.get(), SIGKILL);
  ASSERT_FALSE(after.ok());
  EXPECT_EQ(after.error().errnum, ESRCH);
}

TEST(Spawn, KeepsRequestedFdsAndRedirectsStdinFromDevNull) {
  Pipe extra = Pipe::make();  // close-on-exec, so only keep_fds lets it through
  const std::string script =
      "echo kept >&" + std::to_string(extra.write.get()) + "; cat; echo stdin-done";
  SpawnSpec spec = command({"sh", "-c", script});
  spec.keep_fds = {extra.write.get()};
  EXPECT_EQ(run_captured(spec), "stdin-done\n");
  extra.write.reset();
  EXPECT_EQ(read_all(extra.read.get()), "kept\n");
}

TEST(Spawn, StderrGoesToItsOwnFd) {
  Pipe err = Pipe::make();
  SpawnSpec spec = command({"sh", "-c", "echo out; echo err >&2"});
  spec.stderr_fd = err.write.get();
  EXPECT_EQ(run_captured(spec), "out\n");
  err.write.reset();
  EXPECT_EQ(read_all(err.read.get()), "err\n");
}

bool status_mask_has(pid_t pid, const std::string& field, int signal) {
  std::ifstream status("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind(field + ":", 0) == 0) {
      const unsigned long long mask = std::stoull(line.substr(field.size() + 1), nullptr, 16);
      return (mask >> (signal - 1)) & 1u;
    }
  }
  ADD_FAILURE() << "no " << field << " in /proc/" << pid << "/status";
  return true;
}

TEST(Spawn, ResetsDispositionsAndRestoresTheSignalMask) {
  sigset_t blocked, saved_mask;
  sigemptyset(&blocked);
  sigaddset(&blocked, SIGUSR2);
  ASSERT_EQ(::sigprocmask(SIG_BLOCK, &blocked, &saved_mask), 0);
  struct sigaction ignore {
  }, saved_action{};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(::sigaction(SIGUSR1, &ignore, &saved_action), 0);

  sigset_t empty;
  sigemptyset(&empty);
  SpawnSpec spec = command({"sleep", "10"});
  spec.child_sigmask = empty;
  auto child = spawn_process(spec);
  ::sigaction(SIGUSR1, &saved_action, nullptr);
  ::sigprocmask(SIG_SETMASK, &saved_mask, nullptr);
  ASSERT_TRUE(child.ok()) << child.error().describe();
  EXPECT_FALSE(status_mask_has(child->pid, "SigIgn", SIGUSR1));
  EXPECT_FALSE(status_mask_has(child->pid, "SigBlk", SIGUSR2));
  ASSERT_TRUE(pidfd_signal(child->pidfd.get(), SIGKILL).ok());
  reap(child->pid);
}

// An intermediate process spawns the worker and exits; as subreaper we inherit and reap it.
void expect_parent_death_kills_worker(const std::optional<UserIdentity>& user) {
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  Pipe report = Pipe::make();
  const pid_t middle = ::fork();
  ASSERT_GE(middle, 0);
  if (middle == 0) {
    SpawnSpec spec = command({"sleep", "10"});
    spec.parent_death_signal = SIGKILL;
    spec.user = user;
    auto child = spawn_process(spec);
    const pid_t pid = child.ok() ? child->pid : -1;
    ::_exit(::write(report.write.get(), &pid, sizeof pid) == sizeof pid ? 0 : 1);
  }
  report.write.reset();
  pid_t worker = -1;
  ASSERT_EQ(::read(report.read.get(), &worker, sizeof worker), static_cast<ssize_t>(sizeof worker));
  EXPECT_EQ(reap(middle), 0);
  ASSERT_GT(worker, 0);
  const int status = reap(worker);
  ::prctl(PR_SET_CHILD_SUBREAPER, 0);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
}

TEST(Spawn, ParentDeathSignalReachesTheChild) {
  expect_parent_death_kills_worker(std::nullopt);
}

TEST(Spawn, ParentDeathSignalSurvivesTheUserChange) {
  // Changing uid/gid clears PR_SET_PDEATHSIG, so spawn must set it after setuid.
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to change user";
  auto nobody = lookup_user("nobody");
  ASSERT_TRUE(nobody.ok()) << nobody.error().describe();
  expect_parent_death_kills_worker(*nobody);
}

TEST(Spawn, RunsAsAnotherUser) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to change user";
  auto nobody = lookup_user("nobody");
  ASSERT_TRUE(nobody.ok()) << nobody.error().describe();
  SpawnSpec spec = command({"id", "-u"});
  spec.user = *nobody;
  EXPECT_EQ(run_captured(spec), std::to_string(nobody->uid) + "\n");
}

TEST(LookupUser, FindsByNameAndByUid) {
  auto by_name = lookup_user("root");
  ASSERT_TRUE(by_name.ok()) << by_name.error().describe();
  EXPECT_EQ(by_name->uid, 0u);
  EXPECT_EQ(by_name->gid, 0u);
  EXPECT_EQ(by_name->name, "root");
  EXPECT_FALSE(by_name->home.empty());
  EXPECT_NE(std::find(by_name->groups.begin(), by_name->groups.end(), 0u), by_name->groups.end());
  auto by_uid = lookup_user("0");
  ASSERT_TRUE(by_uid.ok());
  EXPECT_EQ(by_uid->name, "root");
}

TEST(LookupUser, UnknownUserIsAnError) {
  auto user = lookup_user("memvisor-no-such-user");
  ASSERT_FALSE(user.ok());
  EXPECT_EQ(user.error().message, "unknown user 'memvisor-no-such-user'");
  EXPECT_FALSE(lookup_user("4000000000").ok());
}

// The memory controller's line of a /proc/PID/cgroup text: v1 "7:memory:/a/b", v2 "0::/a/b".
std::string memory_cgroup(std::string_view proc_cgroup, CgroupVersion version) {
  while (!proc_cgroup.empty()) {
    const size_t end = std::min(proc_cgroup.find('\n'), proc_cgroup.size());
    const std::string_view line = proc_cgroup.substr(0, end);
    proc_cgroup.remove_prefix(std::min(end + 1, proc_cgroup.size()));
    const size_t first = line.find(':');
    const size_t second = line.find(':', first + 1);
    if (first == std::string_view::npos || second == std::string_view::npos) continue;
    const std::string controllers =
        "," + std::string(line.substr(first + 1, second - first - 1)) + ",";
    const bool memory = version == CgroupVersion::kV2
                            ? line.starts_with("0::")
                            : controllers.find(",memory,") != std::string::npos;
    if (memory) return std::string(line.substr(second + 1));
  }
  return "";
}

TEST(Spawn, JoinsItsCgroupBeforeExecAndItsChildrenFollow) {
  auto cgroups = InstanceCgroups::create();
  if (!cgroups) GTEST_SKIP() << "no memory cgroup can be made here: " << cgroups.error().describe();
  auto procs = cgroups->make("spawn.1.1");
  ASSERT_TRUE(procs.ok()) << procs.error().describe();
  // sh is the exec'd program; each cat is a child it forks.
  SpawnSpec spec = command({"sh", "-c", "cat /proc/self/cgroup; echo; cat /proc/$$/cgroup"});
  spec.cgroup_procs_fd = procs->get();
  spec.cgroup = cgroups->cgroup_path("spawn.1.1");
  const std::string printed = run_captured(spec);
  const size_t split = printed.find("\n\n");
  ASSERT_NE(split, std::string::npos) << printed;
  EXPECT_EQ(memory_cgroup(printed.substr(0, split), cgroups->version()),
            cgroups->cgroup_path("spawn.1.1"))
      << printed;
  EXPECT_EQ(memory_cgroup(printed.substr(split + 2), cgroups->version()),
            cgroups->cgroup_path("spawn.1.1"))
      << printed;
  // The spawner itself stays where it was.
  auto own = read_file("/proc/self/cgroup");
  ASSERT_TRUE(own.ok());
  EXPECT_NE(memory_cgroup(*own, cgroups->version()), cgroups->cgroup_path("spawn.1.1"));
  cgroups->remove("spawn.1.1");
  EXPECT_FALSE(std::filesystem::exists(cgroups->hierarchy() + cgroups->cgroup_path("spawn.1.1")));
}

TEST(Spawn, CgroupJoinFailureIsReportedAndReaped) {
  UniqueFd read_only(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  ASSERT_TRUE(read_only.valid());
  SpawnSpec spec = command({"/bin/true"});
  spec.cgroup_procs_fd = read_only.get();
  spec.cgroup = "/memvisor.1/web.1.1";
  auto child = spawn_process(spec);
  ASSERT_FALSE(child.ok());
  EXPECT_EQ(child.error().describe(),
            "join cgroup /memvisor.1/web.1.1 for '/bin/true': Bad file descriptor");
  expect_no_children();
}

TEST(Spawn, JoiningARemovedCgroupFails) {
  auto cgroups = InstanceCgroups::create();
  if (!cgroups) GTEST_SKIP() << "no memory cgroup can be made here: " << cgroups.error().describe();
  auto procs = cgroups->make("spawn.2.1");
  ASSERT_TRUE(procs.ok()) << procs.error().describe();
  cgroups->remove("spawn.2.1");  // empty: removed at once, the open file now leads nowhere
  SpawnSpec spec = command({"/bin/true"});
  spec.cgroup_procs_fd = procs->get();
  spec.cgroup = cgroups->cgroup_path("spawn.2.1");
  auto child = spawn_process(spec);
  ASSERT_FALSE(child.ok());
  EXPECT_EQ(child.error().message, "join cgroup " + spec.cgroup + " for '/bin/true'");
  EXPECT_NE(child.error().errnum, 0);
  expect_no_children();
}

}  // namespace
}  // namespace memvisor
