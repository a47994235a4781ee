// The cost of one instance-sample: ProcMemoryReader on real processes (an idle `sleep`, an idle
// python3, a tree of 1 + 4 sleeps), per /proc file. See BENCHMARKS.md, "Measuring loop".
#include <benchmark/benchmark.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "os/memory_reader.h"
#include "os/proc.h"

extern char** environ;

namespace memvisor {
namespace {

// A real process to measure, killed and reaped at exit.
struct Child {
  pid_t pid = 0;
  uint64_t start_ticks = 0;
};

class Children {
 public:
  ~Children() {
    for (const pid_t pid : pids_) {
      ::kill(-pid, SIGKILL);  // its process group: a tree's children too
      ::waitpid(pid, nullptr, 0);
    }
  }
  Child spawn(std::vector<std::string> argv) {
    std::vector<char*> args;
    for (auto& arg : argv) args.push_back(arg.data());
    args.push_back(nullptr);
    posix_spawnattr_t attr;
    ::posix_spawnattr_init(&attr);
    ::posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    pid_t pid = 0;
    const int spawned = ::posix_spawnp(&pid, args[0], nullptr, &attr, args.data(), environ);
    ::posix_spawnattr_destroy(&attr);
    if (spawned != 0) {
      std::perror("posix_spawnp");
      std::exit(1);
    }
    pids_.push_back(pid);
    // Wait for the exec (and python's start-up) so the process measured is the worker itself.
    const std::string marker = argv.size() > 1 ? argv.back() : argv[0];
    for (int i = 0; i < 500; ++i) {
      auto stat = read_proc_stat(pid);
      if (stat && stat->comm != "memory_read_ben") {
        ::usleep(200 * 1000);  // let an interpreter finish importing
        return {pid, read_proc_stat(pid)->start_time_ticks};
      }
      ::usleep(10 * 1000);
    }
    std::fprintf(stderr, "%s did not start\n", marker.c_str());
    std::exit(1);
  }

 private:
  std::vector<pid_t> pids_;
};

Children& children() {
  static Children all;
  return all;
}

const Child& sleeper() {
  static const Child child = children().spawn({"sleep", "infinity"});
  return child;
}

const Child& python_idle() {
  static const Child child =
      children().spawn({"python3", "-c", "import time\nwhile True: time.sleep(3600)"});
  return child;
}

// A shell with four sleeping children: the `tree = true` case.
const Child& tree_of_five() {
  static const Child child = children().spawn(
      {"sh", "-c", "sleep infinity & sleep infinity & sleep infinity & sleep infinity & wait"});
  return child;
}

// One instance-sample, as the supervisor takes it: files held open (a pread each) or, "Cold",
// opened, read and closed every time.
// `reuse` > 1: as the supervisor at interval 1s, the rollup of a process whose page counts did not
// change stands in for up to `reuse` reads (statm is read every time).
void read_process(benchmark::State& state, const Child& child, MemorySource source, bool held,
                  int reuse = 1) {
  ProcMemoryReader reader;
  reader.keep_files_open(held);
  reader.reuse_rollup_for(reuse);
  for (auto _ : state) {
    auto sample = reader.read_process(child.pid, child.start_ticks, source);
    if (!sample) state.SkipWithError(sample.error().describe().c_str());
    benchmark::DoNotOptimize(sample);
  }
  state.SetItemsProcessed(state.iterations());
}

void read_tree(benchmark::State& state, bool held) {
  const Child& root = tree_of_five();
  ProcMemoryReader reader;
  reader.keep_files_open(held);
  for (auto _ : state) {
    auto sample = reader.read_tree(root.pid, root.start_ticks);
    if (!sample || sample->processes != 5) state.SkipWithError("tree of five not read");
    benchmark::DoNotOptimize(sample);
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK_CAPTURE(read_process, SleepRollupHeld, sleeper(), MemorySource::rollup, true);
BENCHMARK_CAPTURE(read_process, SleepRollupHeldReused10, sleeper(), MemorySource::rollup, true, 10);
BENCHMARK_CAPTURE(read_process, SleepRollupCold, sleeper(), MemorySource::rollup, false);
BENCHMARK_CAPTURE(read_process, SleepStatusHeld, sleeper(), MemorySource::status, true);
BENCHMARK_CAPTURE(read_process, SleepStatmHeld, sleeper(), MemorySource::statm, true);
BENCHMARK_CAPTURE(read_process, SleepStatmCold, sleeper(), MemorySource::statm, false);
BENCHMARK_CAPTURE(read_process, PythonRollupHeld, python_idle(), MemorySource::rollup, true);
BENCHMARK_CAPTURE(read_process, PythonRollupHeldReused10, python_idle(), MemorySource::rollup, true,
                  10);
BENCHMARK_CAPTURE(read_process, PythonRollupCold, python_idle(), MemorySource::rollup, false);
BENCHMARK_CAPTURE(read_process, PythonStatmHeld, python_idle(), MemorySource::statm, true);
BENCHMARK_CAPTURE(read_tree, TreeOfFiveHeld, true);
BENCHMARK_CAPTURE(read_tree, TreeOfFiveCold, false);

}  // namespace
}  // namespace memvisor

BENCHMARK_MAIN();
