// Correctness of the heap sampler end to end: a program with a known leak runs under the real
// preload library, and the report built from its raw file names the leaking function, module
// and file:line, with the retained bytes within 20% of the truth, run after run.
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "heap_report/heap_report.h"

extern char** environ;

namespace memvisor {
namespace {

int leak_site_line() {
  std::ifstream source(LEAK_SOURCE);
  std::string line;
  for (int number = 1; std::getline(source, line); ++number)
    if (line.find("// LEAK SITE") != std::string::npos) return number;
  return -1;
}

// Runs `program` with the library armed for the whole run; returns its exit status.
int run_armed(const std::string& program, const std::string& raw_path,
              const std::vector<std::string>& args, const std::string& interval) {
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  env_strings.push_back(std::string("LD_PRELOAD=") + SAMPLER_LIBRARY);
  env_strings.push_back("MEMVISOR_SAMPLER_OUT=" + raw_path);
  if (!interval.empty()) env_strings.push_back("MEMVISOR_SAMPLER_INTERVAL=" + interval);
  std::vector<std::string> argv_strings{program};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv, envp;
  for (auto& s : argv_strings) argv.push_back(s.data());
  for (auto& s : env_strings) envp.push_back(s.data());
  argv.push_back(nullptr);
  envp.push_back(nullptr);
  pid_t pid = 0;
  if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), envp.data()) != 0) return -1;
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

int run_workload(const std::string& raw_path, const std::vector<std::string>& args,
                 const std::string& interval = "") {
  return run_armed(SAMPLER_WORKLOAD, raw_path, args, interval);
}

const ReportRow* entry_for(const std::vector<ReportRow>& entries, const std::string& key) {
  for (const auto& e : entries)
    if (e.key == key) return &e;
  return nullptr;
}

class SamplerReport : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() /
           ("memvisor-sampler-test-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
};

TEST_F(SamplerReport, TopRetainedSiteIsTheLeakWithinTwentyPercentOverFiveRuns) {
  constexpr double kLeakedBytes = 128.0 * 1024 * 1024;
  const int line = leak_site_line();
  ASSERT_GT(line, 0);
  for (int run = 0; run < 5; ++run) {
    const std::string raw_path = (dir_ / ("run" + std::to_string(run) + ".raw")).string();
    ASSERT_EQ(run_workload(raw_path, {"128", "1024"}), 0);
    const auto raw = read_raw_samples(raw_path);
    ASSERT_TRUE(raw.ok()) << raw.error().describe();
    ASSERT_TRUE(raw->complete);
    EXPECT_EQ(raw->interval_bytes, 512u * 1024);
    DwarfSymbolizer symbols(parse_proc_maps(raw->maps));
    const HeapReport report = build_heap_report(*raw, symbols);
    SCOPED_TRACE(heap_report_summary(report));
    ASSERT_FALSE(report.by_function.empty());
    EXPECT_EQ(report.by_function[0].key, "leak_known_bytes");
    EXPECT_EQ(report.by_module[0].key, "libsampler_leak.so");
    EXPECT_EQ(report.by_location[0].key.substr(report.by_location[0].key.rfind('/') + 1),
              "leak_library.cc:" + std::to_string(line));
    const double retained = report.by_function[0].retained.bytes;
    EXPECT_NEAR(retained / kLeakedBytes, 1.0, 0.2) << "run " << run;
    EXPECT_NEAR(report.total_retained.bytes / kLeakedBytes, 1.0, 0.2) << "run " << run;
    // The churn was freed: it is allocated but not retained.
    EXPECT_GT(report.total_allocated.bytes, 2 * kLeakedBytes);
  }
}

TEST_F(SamplerReport, AllocatedEstimateTracksTheTruthWithASmallInterval) {
  // 64 MiB leaked + 256 MiB churned, sampled every 64 KiB: both within 10%.
  const std::string raw_path = (dir_ / "small.raw").string();
  ASSERT_EQ(run_workload(raw_path, {"64", "256"}, "65536"), 0);
  const auto raw = read_raw_samples(raw_path);
  ASSERT_TRUE(raw.ok()) << raw.error().describe();
  DwarfSymbolizer symbols(parse_proc_maps(raw->maps));
  const HeapReport report = build_heap_report(*raw, symbols);
  EXPECT_NEAR(report.total_retained.bytes / (64.0 * 1024 * 1024), 1.0, 0.1);
  EXPECT_EQ(report.unwinder, "libunwind");
}

TEST_F(SamplerReport, ReallocEndsTheOldAllocationAndSamplesTheNewOneWithoutCopying) {
  // Interval 1: every allocation is a sample standing for exactly its size, so the report's
  // numbers are the program's own. A realloc is the end of one allocation and the start of
  // another, whether the block stays in its page run, moves its pages, or is copied.
  const std::string raw_path = (dir_ / "realloc.raw").string();
  ASSERT_EQ(run_armed(SAMPLER_REALLOC, raw_path, {}, "1"), 0);
  const auto raw = read_raw_samples(raw_path);
  ASSERT_TRUE(raw.ok()) << raw.error().describe();
  DwarfSymbolizer symbols(parse_proc_maps(raw->maps));
  const HeapReport report = build_heap_report(*raw, symbols, 1000);
  SCOPED_TRACE(heap_report_summary(report));
  constexpr double kMiB = 1024.0 * 1024.0;
  const auto* in_place = entry_for(report.by_function, "grow_in_place");
  ASSERT_NE(in_place, nullptr);
  EXPECT_NEAR(in_place->allocated.bytes, 22000, 1);
  EXPECT_EQ(in_place->allocated.samples, 2u);
  EXPECT_NEAR(in_place->retained.bytes, 12000, 1);
  EXPECT_EQ(in_place->retained.samples, 1u);
  const auto* moved = entry_for(report.by_function, "grow_by_moving");
  ASSERT_NE(moved, nullptr);
  EXPECT_NEAR(moved->allocated.bytes, 5 * kMiB, 1);
  EXPECT_NEAR(moved->retained.bytes, 3 * kMiB, 1);
  EXPECT_EQ(moved->retained.samples, 1u);
  const auto* freed = entry_for(report.by_function, "shrink_and_free");
  ASSERT_NE(freed, nullptr);
  EXPECT_NEAR(freed->allocated.bytes, 20100, 1);
  EXPECT_EQ(freed->retained.samples, 0u);
}

}  // namespace
}  // namespace memvisor
