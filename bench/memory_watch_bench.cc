// The supervisor's whole per-instance path: MemoryWatch::sample_due over a fleet of real idle
// processes (the fleet state as the controller's snapshot builds it), with a limit rule. Its time
// per instance-sample is the supervisor's CPU per instance-sample in `memvisor run`, less the
// event loop. See BENCHMARKS.md, "Measuring loop".
#include <benchmark/benchmark.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <vector>

#include "core/config/config_json.h"
#include "os/proc.h"
#include "supervisor/fleet_state.h"
#include "supervisor/memory_watch.h"

extern char** environ;

namespace memvisor {
namespace {

constexpr int kInstances = 50;

struct Fleet {
  std::vector<pid_t> pids;
  FleetState state;

  Fleet() {
    Config config;
    ServiceConfig service;
    service.name = "idle";
    service.command = {"sleep", "infinity"};
    service.instances = kInstances;
    service.memory.interval = Millis(1000);
    service.memory.limit = LimitRule{};
    service.memory.limit->size = uint64_t{500} << 20;
    service.memory.limit->samples = 3;
    config.services.push_back(service);
    nlohmann::json instances = nlohmann::json::array();
    for (int n = 1; n <= kInstances; ++n) {
      char sleep[] = "sleep";
      char infinity[] = "infinity";
      char* argv[] = {sleep, infinity, nullptr};
      pid_t pid = 0;
      if (::posix_spawnp(&pid, "sleep", nullptr, nullptr, argv, environ) != 0) std::exit(1);
      pids.push_back(pid);
      uint64_t start_ticks = 0;
      for (int i = 0; i < 500; ++i) {
        auto stat = read_proc_stat(pid);
        if (stat && stat->comm == "sleep") {
          start_ticks = stat->start_time_ticks;
          break;
        }
        ::usleep(10000);
      }
      instances.push_back({{"service", "idle"},
                           {"instance", n},
                           {"generation", 1},
                           {"pid", pid},
                           {"state", "running"},
                           {"restarts", 0},
                           {"circuit", "closed"},
                           {"consecutive_failures", 0},
                           {"status", ""},
                           {"start_ticks", start_ticks},
                           {"role", "primary"},
                           {"started_at", 1.7e9}});
    }
    state.apply({{"type", "snapshot"},
                 {"controller_pid", ::getpid()},
                 {"config", config_to_json(config)},
                 {"instances", instances}});
  }
  ~Fleet() {
    for (const pid_t pid : pids) {
      ::kill(pid, SIGKILL);
      ::waitpid(pid, nullptr, 0);
    }
  }
};

void BM_MemoryWatchRound(benchmark::State& state) {
  static Fleet fleet;
  MemoryWatch watch;
  double now_s = 0;
  const auto wall = std::chrono::system_clock::now();
  for (auto _ : state) {
    auto actions = watch.sample_due(now_s, wall, fleet.state);
    if (!actions.empty()) state.SkipWithError("a rule acted on an idle process");
    now_s += 1;  // every round is due
  }
  state.SetItemsProcessed(state.iterations() * kInstances);
  state.SetLabel("items = instance-samples");
}

BENCHMARK(BM_MemoryWatchRound);

}  // namespace
}  // namespace memvisor

BENCHMARK_MAIN();
