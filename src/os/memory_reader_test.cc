// ProcMemoryReader against the captured proc tree, fake proc trees built from those files
// (fallback, reused pid, tree sums), and the real /proc with a child that allocates.
#include "os/memory_reader.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <thread>
#include <vector>

#include "os/test_temp_dir.h"

#include "core/test_fixtures.h"

namespace memvisor {
namespace {

constexpr uint64_t kMiB = 1024 * 1024;

TEST(ProcMemoryReader, CapturedPythonProcess) {
  ProcMemoryReader reader(proc_fixtures(), 4096);
  auto sample = reader.read_process(16638, 151173);
  ASSERT_TRUE(sample.ok()) << sample.error().describe();
  EXPECT_EQ(sample->rss, kib(64992));
  EXPECT_EQ(sample->pss, kib(24822));
  EXPECT_EQ(sample->uss, kib(2296 + 784));
  EXPECT_EQ(sample->swap, 0u);
  EXPECT_EQ(sample->anon, kib(21599));
  EXPECT_EQ(sample->file, kib(3222));
  EXPECT_EQ(sample->shmem, 0u);
  EXPECT_TRUE(sample->from_rollup);
  EXPECT_EQ(sample->processes, 1);
  EXPECT_FALSE(reader.last_read_fell_back());
}

TEST(ProcMemoryReader, ReusedOrMissingPidIsEsrch) {
  ProcMemoryReader reader(proc_fixtures(), 4096);
  auto reused = reader.read_process(16638, 151172);
  ASSERT_FALSE(reused.ok());
  EXPECT_EQ(reused.error().errnum, ESRCH);
  EXPECT_NE(reused.error().message.find("151173"), std::string::npos);
  auto missing = reader.read_process(99999);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().errnum, ESRCH);
  EXPECT_FALSE(reader.read_tree(16638, 1).ok());
}

TEST(ProcMemoryReader, CapturedTreeSumsPssOnce) {
  // A python3 parent holding 50 MiB, its fork()ed child and grandchild: summed RSS counts the
  // shared heap three times, summed PSS once.
  ProcMemoryReader reader(proc_fixtures(), 4096);
  auto tree = reader.read_tree(16638, 151173);
  ASSERT_TRUE(tree.ok()) << tree.error().describe();
  EXPECT_EQ(tree->processes, 3);
  EXPECT_EQ(tree->rss, kib(64992 + 69520 + 69520));
  EXPECT_EQ(tree->pss, kib(24822 + 26378 + 31506));
  EXPECT_EQ(tree->uss, kib(3080 + 572 + 10828));
  EXPECT_TRUE(tree->from_rollup);
  auto subtree = reader.read_tree(16643);
  ASSERT_TRUE(subtree.ok());
  EXPECT_EQ(subtree->processes, 2);
  EXPECT_EQ(subtree->pss, kib(26378 + 31506));
}

// A proc root in a temp dir, each pid made of captured files and a stat line naming its parent.
class ProcMemoryFakeTree : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(root_.ok()); }
  void add(pid_t pid, pid_t ppid, uint64_t start, pid_t captured, std::vector<std::string> files) {
    const std::string dir = root_ / std::to_string(pid);
    ASSERT_EQ(::mkdir(dir.c_str(), 0755), 0);
    std::ofstream(dir + "/stat") << pid << " (python3) S " << ppid
                                 << " 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 " << start << " 0 0\n";
    for (const std::string& file : files) {
      std::filesystem::copy_file(proc_fixtures() + "/" + std::to_string(captured) + "/" + file,
                                 dir + "/" + file);
    }
  }
  TestTempDir root_;
};

TEST_F(ProcMemoryFakeTree, FallsBackToStatusWithoutRollup) {
  add(100, 1, 5000, 16643, {"status", "statm"});  // a kernel before 4.14, or no permission
  ProcMemoryReader reader(root_.path(), 4096);
  auto sample = reader.read_process(100, 5000);
  ASSERT_TRUE(sample.ok()) << sample.error().describe();
  EXPECT_FALSE(sample->from_rollup);
  EXPECT_EQ(sample->rss, kib(69520));
  EXPECT_EQ(sample->pss, kib(69520));  // approximated by rss
  EXPECT_EQ(sample->uss, kib(66300));  // approximated by RssAnon
  EXPECT_EQ(sample->anon, kib(66300));
  EXPECT_EQ(sample->file, kib(3220));
  EXPECT_TRUE(reader.last_read_fell_back());
  EXPECT_NE(reader.fallback_reason().find("smaps_rollup"), std::string::npos);
}

TEST_F(ProcMemoryFakeTree, FallsBackToStatmWhenStatusHasNoMemoryLines) {
  add(100, 1, 5000, 16638, {"statm"});
  std::filesystem::copy_file(proc_fixtures() + "/2/status", root_ / "100/status");  // no Vm* lines
  ProcMemoryReader reader(root_.path(), 4096);
  auto sample = reader.read_process(100);
  ASSERT_TRUE(sample.ok()) << sample.error().describe();
  EXPECT_FALSE(sample->from_rollup);
  EXPECT_EQ(sample->rss, 16248u * 4096);
  EXPECT_EQ(sample->file, 1722u * 4096);
  EXPECT_EQ(sample->anon, (16248u - 1722u) * 4096);
  EXPECT_EQ(sample->uss, sample->anon);
}

TEST_F(ProcMemoryFakeTree, ZombieHasNoMemory) {
  add(100, 1, 5000, 16638, {"status", "statm"});
  std::ofstream(root_ / "100/smaps_rollup");  // the kernel prints nothing without an mm
  ProcMemoryReader reader(root_.path(), 4096);
  auto sample = reader.read_process(100);
  ASSERT_TRUE(sample.ok()) << sample.error().describe();
  EXPECT_EQ(sample->rss, 0u);
  EXPECT_EQ(sample->processes, 1);
  EXPECT_TRUE(sample->from_rollup);
  EXPECT_FALSE(reader.last_read_fell_back());
}

TEST_F(ProcMemoryFakeTree, StartTimeMismatchIsEsrch) {
  add(100, 1, 5000, 16638, {"smaps_rollup", "status"});
  ProcMemoryReader reader(root_.path(), 4096);
  EXPECT_TRUE(reader.read_process(100, 5000).ok());
  auto reused = reader.read_process(100, 4999);
  ASSERT_FALSE(reused.ok());
  EXPECT_EQ(reused.error().errnum, ESRCH);
  auto tree = reader.read_tree(100, 4999);
  ASSERT_FALSE(tree.ok());
  EXPECT_EQ(tree.error().errnum, ESRCH);
}

TEST_F(ProcMemoryFakeTree, TreeSumsThreeProcessesAcrossFallback) {
  add(100, 1, 5000, 16638, {"smaps_rollup", "status"});
  add(101, 100, 5001, 16643, {"status"});  // unreadable rollup: counted from status
  add(102, 101, 5002, 16644, {"smaps_rollup", "status"});
  add(103, 1, 5003, 16812, {"smaps_rollup", "status"});  // not in the tree
  add(104, 100, 5004, 16638, {});                        // exited during the walk
  ProcMemoryReader reader(root_.path(), 4096);
  auto tree = reader.read_tree(100, 5000);
  ASSERT_TRUE(tree.ok()) << tree.error().describe();
  EXPECT_EQ(tree->processes, 3);
  EXPECT_FALSE(tree->from_rollup);
  EXPECT_TRUE(reader.last_read_fell_back());
  EXPECT_EQ(tree->rss, kib(64992 + 69520 + 69520));
  EXPECT_EQ(tree->pss, kib(24822 + 69520 + 31506));
  EXPECT_EQ(tree->uss, kib(3080 + 66300 + 10828));
  EXPECT_EQ(tree->anon, kib(21599 + 66300 + 30719));

  auto alone = reader.read_process(100, 5000);
  ASSERT_TRUE(alone.ok());
  EXPECT_FALSE(reader.last_read_fell_back());  // reset by every read
}

TEST(HostMemory, CapturedMeminfoAndPressure) {
  auto info = read_host_meminfo(proc_fixtures());
  ASSERT_TRUE(info.ok()) << info.error().describe();
  EXPECT_EQ(info->mem_total, kib(24683620));
  auto pressure = read_host_memory_pressure(proc_fixtures());
  ASSERT_TRUE(pressure.ok()) << pressure.error().describe();
  EXPECT_EQ(pressure->some.total_us, 427u);
  auto missing = read_host_meminfo("/nonexistent");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().errnum, ENOENT);
}

TEST(ProcMemoryReaderReal, OwnProcess) {
  ProcMemoryReader reader;
  auto stat = read_proc_stat(::getpid());
  ASSERT_TRUE(stat.ok());
  auto sample = reader.read_process(::getpid(), stat->start_time_ticks);
  ASSERT_TRUE(sample.ok()) << sample.error().describe();
  EXPECT_GT(sample->rss, 0u);
  EXPECT_GT(sample->pss, 0u);
  EXPECT_LE(sample->uss, sample->rss);
  EXPECT_LE(sample->pss, sample->rss);
  EXPECT_TRUE(sample->from_rollup) << reader.fallback_reason();
  auto reused = reader.read_process(::getpid(), stat->start_time_ticks + 1);
  ASSERT_FALSE(reused.ok());
  EXPECT_EQ(reused.error().errnum, ESRCH);
}

// A python3 child that allocates 64 MiB when told to: read before and after.
TEST(ProcMemoryReaderReal, ChildThatAllocates) {
  int to_child[2];
  int from_child[2];
  ASSERT_EQ(::pipe(to_child), 0);
  ASSERT_EQ(::pipe(from_child), 0);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::dup2(to_child[0], 0);
    ::dup2(from_child[1], 1);
    ::close(to_child[1]);
    ::close(from_child[0]);
    // bytes * n fills every byte, so every page is touched.
    ::execlp("python3", "python3", "-c",
             "import sys, time\n"
             "print('ready', flush=True); sys.stdin.readline()\n"
             "heap = b'\\x01' * (64 << 20)\n"
             "print('allocated', flush=True); sys.stdin.readline()\n",
             static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(to_child[0]);
  ::close(from_child[1]);
  auto wait_for = [&](const std::string& word) {
    std::string line;
    char c = 0;
    while (::read(from_child[0], &c, 1) == 1 && c != '\n') line += c;
    return line == word;
  };
  auto finish = [&] {
    ::close(to_child[1]);
    ::close(from_child[0]);
    ::kill(child, SIGKILL);
    ::waitpid(child, nullptr, 0);
  };
  if (!wait_for("ready")) {
    finish();
    GTEST_SKIP() << "python3 is not available to run the allocating child";
  }
  ProcMemoryReader reader;
  auto stat = read_proc_stat(child);
  ASSERT_TRUE(stat.ok());
  auto before = reader.read_process(child, stat->start_time_ticks);
  ASSERT_EQ(::write(to_child[1], "\n", 1), 1);
  ASSERT_TRUE(wait_for("allocated"));
  auto after = reader.read_process(child, stat->start_time_ticks);
  auto tree = reader.read_tree(::getpid());
  finish();

  ASSERT_TRUE(before.ok()) << before.error().describe();
  ASSERT_TRUE(after.ok()) << after.error().describe();
  // 64 MiB touched; the interpreter may return a few MiB of its own meanwhile (seen: USS +59.8).
  EXPECT_GE(after->rss, before->rss + 56 * kMiB);
  EXPECT_GE(after->pss, before->pss + 56 * kMiB);
  EXPECT_GE(after->uss, before->uss + 56 * kMiB);
  EXPECT_LE(after->uss, after->rss);
  ASSERT_TRUE(tree.ok()) << tree.error().describe();
  EXPECT_GE(tree->processes, 2);
  EXPECT_GE(tree->pss, after->pss);
}

TEST(ProcMemoryReaderReal, ZombieHoldsNothingThenIsGone) {
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) ::_exit(0);
  for (int i = 0; i < 500; ++i) {  // until it is a zombie, at most 5 s
    auto stat = read_proc_stat(child);
    if (stat.ok() && stat->state == 'Z') break;
    ::usleep(10000);
  }
  ProcMemoryReader reader;
  auto zombie = reader.read_process(child);
  ::waitpid(child, nullptr, 0);
  auto reaped = reader.read_process(child);
  ASSERT_TRUE(zombie.ok()) << zombie.error().describe();
  EXPECT_EQ(zombie->rss, 0u);
  EXPECT_TRUE(zombie->from_rollup);
  ASSERT_FALSE(reaped.ok());
  EXPECT_EQ(reaped.error().errnum, ESRCH);
}

// A child of this test that waits for a byte on `go`, then execs `sleep 100`.
pid_t fork_then_exec_sleep(int go) {
  const pid_t child = ::fork();
  if (child == 0) {
    char byte = 0;
    if (::read(go, &byte, 1) == 1) ::execlp("sleep", "sleep", "100", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  return child;
}

TEST(ProcMemoryReaderReal, HeldFilesFollowAnExecAndCloseWhenUnused) {
  int go[2];
  ASSERT_EQ(::pipe(go), 0);
  const pid_t child = fork_then_exec_sleep(go[0]);
  ASSERT_GT(child, 0);
  auto stat = read_proc_stat(child);
  ASSERT_TRUE(stat.ok());
  ProcMemoryReader reader;
  reader.keep_files_open(true);
  auto forked = reader.read_process(child, stat->start_time_ticks);
  EXPECT_EQ(reader.open_processes(), 1u);

  ASSERT_EQ(::write(go[1], "x", 1), 1);
  bool execd = false;
  for (int i = 0; i < 500 && !execd; ++i) {  // at most 5 s
    auto now = read_proc_stat(child);
    execd = now.ok() && now->comm == "sleep";
    if (!execd) ::usleep(10000);
  }
  // The held rollup read the forked address space; the exec replaced it.
  auto execd_sample = reader.read_process(child, stat->start_time_ticks);
  reader.close_unused();
  const size_t after_first_round = reader.open_processes();
  reader.close_unused();
  const size_t after_idle_round = reader.open_processes();
  (void)reader.read_process(child, stat->start_time_ticks);
  ::kill(child, SIGKILL);
  ::waitpid(child, nullptr, 0);
  auto reaped = reader.read_process(child, stat->start_time_ticks);
  ::close(go[0]);
  ::close(go[1]);

  ASSERT_TRUE(forked.ok()) << forked.error().describe();
  ASSERT_TRUE(execd);
  ASSERT_TRUE(execd_sample.ok()) << execd_sample.error().describe();
  EXPECT_GT(execd_sample->rss, 0u);
  EXPECT_GT(execd_sample->pss, 0u);
  EXPECT_TRUE(execd_sample->from_rollup);
  EXPECT_EQ(after_first_round, 1u);
  EXPECT_EQ(after_idle_round, 0u);
  ASSERT_FALSE(reaped.ok());
  EXPECT_EQ(reaped.error().errnum, ESRCH);
  EXPECT_EQ(reader.open_processes(), 0u);
}

// A forked child in two steps: it reports, blocks until told to go, runs `step`, reports again
// and blocks until the test is over. The test reads it only while it is blocked (under
// AddressSanitizer the way to its first read still touches pages).
class SteppedChild {
 public:
  explicit SteppedChild(const std::function<void()>& step) {
    if (::pipe(go_) != 0 || ::pipe(done_) != 0) return;
    pid_ = ::fork();
    if (pid_ != 0) return;
    ::close(go_[1]);  // so that the test closing its end is an end of file here
    ::close(done_[0]);
    char byte = 0;
    if (::write(done_[1], "r", 1) != 1) ::_exit(1);
    if (::read(go_[0], &byte, 1) != 1) ::_exit(1);
    step();
    if (::write(done_[1], "x", 1) != 1) ::_exit(1);
    (void)::read(go_[0], &byte, 1);  // until the test closes it
    ::_exit(0);
  }
  ~SteppedChild() {
    ::close(go_[1]);
    if (pid_ > 0) ::waitpid(pid_, nullptr, 0);
    for (const int fd : {go_[0], done_[0], done_[1]}) ::close(fd);
  }
  SteppedChild(const SteppedChild&) = delete;
  SteppedChild& operator=(const SteppedChild&) = delete;

  // Waits for the first report and for the child to sleep in its read; its start time, or 0.
  uint64_t wait_blocked() {
    char byte = 0;
    if (pid_ <= 0 || ::read(done_[0], &byte, 1) != 1) return 0;
    auto stat = read_proc_stat(pid_);
    for (int i = 0; i < 200 && stat.ok() && stat->state != 'S'; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
      stat = read_proc_stat(pid_);
    }
    return stat.ok() ? stat->start_time_ticks : 0;
  }
  // Runs the step and waits until it is done.
  bool step() {
    char byte = 0;
    return ::write(go_[1], "x", 1) == 1 && ::read(done_[0], &byte, 1) == 1;
  }
  pid_t pid() const { return pid_; }

 private:
  int go_[2] = {-1, -1};
  int done_[2] = {-1, -1};
  pid_t pid_ = -1;
};

// The rollup stands in while the page counts hold still, and is read again as soon as they move.
TEST(ProcMemoryReaderReal, ReusedRollupFollowsGrowthAtOnce) {
  static char* volatile grown_block = nullptr;  // volatile: the allocation must happen
  SteppedChild child([] {
    grown_block = static_cast<char*>(std::malloc(32 * kMiB));
    if (grown_block == nullptr) ::_exit(1);
    std::memset(grown_block, 1, 32 * kMiB);
  });
  const uint64_t start = child.wait_blocked();
  ASSERT_NE(start, 0u);
  ProcMemoryReader reader;
  reader.keep_files_open(true);
  reader.reuse_rollup_for(100);
  auto first = reader.read_process(child.pid(), start);
  auto second = reader.read_process(child.pid(), start);
  ASSERT_TRUE(child.step());
  auto grown = reader.read_process(child.pid(), start);

  ASSERT_TRUE(first.ok()) << first.error().describe();
  ASSERT_TRUE(second.ok()) << second.error().describe();
  ASSERT_TRUE(grown.ok()) << grown.error().describe();
  EXPECT_EQ(second->pss, first->pss);
  EXPECT_EQ(second->uss, first->uss);
  EXPECT_GE(grown->pss, first->pss + 30 * kMiB);
  EXPECT_GE(grown->uss, first->uss + 30 * kMiB);
}

// A quiet process's rollup is refreshed less and less often; copy-on-write growth, which moves
// no statm count, is still seen within the longest period.
TEST(ProcMemoryReaderReal, QuietProcessIsRefreshedLessOftenAndCopyOnWriteIsStillSeen) {
  constexpr size_t kBlock = 8 * kMiB;
  auto* block = static_cast<char*>(std::malloc(kBlock));
  ASSERT_NE(block, nullptr);
  std::memset(block, 1, kBlock);  // shared with the child until it writes it
  // Every page copied: private now, with the same resident count.
  SteppedChild child([&] { std::memset(block, 2, kBlock); });
  const uint64_t start = child.wait_blocked();
  ASSERT_NE(start, 0u);
  ProcMemoryReader reader;
  reader.keep_files_open(true);
  constexpr int kReads = 2;
  reader.reuse_rollup_for(kReads);
  auto quiet = reader.read_process(child.pid(), start);
  for (int i = 0; i < 39; ++i) quiet = reader.read_process(child.pid(), start);
  const uint64_t quiet_rollups = reader.rollups_read();

  ASSERT_TRUE(child.step());
  int reads_to_see = 0;
  Result<MemorySample> copied = quiet;
  while (reads_to_see < 2 * ProcMemoryReader::kRollupStretch * kReads && copied.ok() &&
         copied->uss < quiet->uss + kBlock - kMiB) {
    copied = reader.read_process(child.pid(), start);
    ++reads_to_see;
  }
  std::free(block);

  ASSERT_TRUE(quiet.ok()) << quiet.error().describe();
  ASSERT_TRUE(copied.ok()) << copied.error().describe();
  // Every kReads reads would be 20 rollups in 40 reads; doubling up to the stretch gives 6.
  EXPECT_LE(quiet_rollups, 10u);
  EXPECT_GE(copied->uss, quiet->uss + kBlock - kMiB) << "after " << reads_to_see << " reads";
  EXPECT_LE(reads_to_see, ProcMemoryReader::kRollupStretch * kReads);
}

TEST(ProcMemoryReaderReal, StatusAndStatmSources) {
  ProcMemoryReader reader;
  reader.keep_files_open(true);
  for (const MemorySource source : {MemorySource::status, MemorySource::statm}) {
    auto sample = reader.read_process(::getpid(), 0, source);
    ASSERT_TRUE(sample.ok()) << sample.error().describe();
    EXPECT_GT(sample->rss, 0u);
    EXPECT_EQ(sample->pss, sample->rss);  // approximated
    EXPECT_FALSE(sample->from_rollup);
    EXPECT_FALSE(reader.last_read_fell_back());  // asked for, not a fallback
  }
  auto rollup = reader.read_process(::getpid());  // the held file switches back
  ASSERT_TRUE(rollup.ok()) << rollup.error().describe();
  EXPECT_TRUE(rollup->from_rollup);
}

TEST(ProcMemoryReaderReal, TreeOfRealChildrenHeldOpen) {
  const pid_t shell = ::fork();
  ASSERT_GE(shell, 0);
  if (shell == 0) {
    ::setpgid(0, 0);
    ::execlp("sh", "sh", "-c", "sleep 100 & sleep 100 & wait", static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ProcMemoryReader reader;
  reader.keep_files_open(true);
  int processes = 0;
  for (int i = 0; i < 500 && processes != 3; ++i) {  // until both sleeps exec'd, at most 5 s
    auto tree = reader.read_tree(shell);
    processes = tree.ok() ? tree->processes : 0;
    if (processes != 3) ::usleep(10000);
  }
  auto held = reader.read_tree(shell);
  const size_t open = reader.open_processes();
  ::kill(-shell, SIGKILL);
  ::waitpid(shell, nullptr, 0);

  EXPECT_EQ(processes, 3);
  ASSERT_TRUE(held.ok()) << held.error().describe();
  EXPECT_EQ(held->processes, 3);
  EXPECT_GT(held->pss, 0u);
  EXPECT_EQ(open, 3u);
}

TEST(ProcMemoryReaderReal, HostMeminfo) {
  auto info = read_host_meminfo();
  ASSERT_TRUE(info.ok()) << info.error().describe();
  EXPECT_GT(info->mem_total, 0u);
  EXPECT_LE(info->mem_available, info->mem_total);
}

}  // namespace
}  // namespace memvisor
