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
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
  Child spawn(std::vector<std::string> argv) {
    std::vector<char*> args;
    for (auto& arg : argv) args.push_back(arg.data());
    args.push_back(nullptr);
    pid_t pid = 0;
    if (::posix_spawnp(&pid, args[0], nullptr, nullptr, args.data(), environ) != 0) {
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

void run_process(benchmark::State& state, const Child& child) {
  ProcMemoryReader reader;
  for (auto _ : state) {
    auto sample = reader.read_process(child.pid, child.start_ticks);
    if (!sample) state.SkipWithError(sample.error().describe().c_str());
    benchmark::DoNotOptimize(sample);
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_RollupSleep(benchmark::State& state) {
  run_process(state, sleeper());
}
void BM_RollupPython(benchmark::State& state) {
  run_process(state, python_idle());
}

void BM_TreeOfFive(benchmark::State& state) {
  const Child& root = tree_of_five();
  ProcMemoryReader reader;
  for (auto _ : state) {
    auto sample = reader.read_tree(root.pid, root.start_ticks);
    if (!sample || sample->processes != 5) state.SkipWithError("tree of five not read");
    benchmark::DoNotOptimize(sample);
  }
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_RollupSleep);
BENCHMARK(BM_RollupPython);
BENCHMARK(BM_TreeOfFive);

}  // namespace
}  // namespace memvisor

BENCHMARK_MAIN();
