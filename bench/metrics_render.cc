// How long one /metrics body takes to render, by fleet size (Google Benchmark). The HTTP thread
// renders on every scrape; the supervisor's loop never does.
#include <benchmark/benchmark.h>

#include "core/observe/metrics_text.h"

namespace memvisor {
namespace {

MetricsSnapshot fleet(int services, int instances_each) {
  MetricsSnapshot s;
  for (int n = 0; n < services; ++n) {
    ServiceMetrics& service = s.services.emplace_back();
    service.name = "service" + std::to_string(n);
    service.desired = instances_each;
    service.ready = instances_each;
    for (int i = 1; i <= instances_each; ++i) {
      InstanceMetrics& m = s.instances.emplace_back();
      m.service = service.name;
      m.instance = i;
      m.generation = 3;
      m.up = m.ready = true;
      m.started_at_s = 1.7e9;
      m.memory = InstanceMemory{200u << 20, 150u << 20, 120u << 20, 0};
      m.leak_slope_bytes_per_second = 12.5;
      m.restarts_by_reason = {{"crash", 1}, {"leak", 2}};
    }
  }
  return s;
}

void BM_RenderMetrics(benchmark::State& state) {
  const MetricsSnapshot s = fleet(4, static_cast<int>(state.range(0)) / 4);
  const std::vector<ProcessUsage> own = {{"controller", 1e7, 1, 1.7e9},
                                         {"supervisor", 2e7, 2, 1.7e9}};
  size_t bytes = 0;
  for (auto _ : state) {
    std::string body = render_metrics(s, 1.7e9 + 60, own);
    bytes = body.size();
    benchmark::DoNotOptimize(body);
  }
  state.counters["body_bytes"] = static_cast<double>(bytes);
}
BENCHMARK(BM_RenderMetrics)->Arg(8)->Arg(100)->Arg(1000);

}  // namespace
}  // namespace memvisor

BENCHMARK_MAIN();
