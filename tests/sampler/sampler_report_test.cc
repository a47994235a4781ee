// Correctness of the heap sampler end to end: a program with a known leak runs under the real
// preload library, and the report built from its raw file names the leaking function, module
// and file:line, with the retained bytes within 20% of the truth, run after run.
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>
#include <string>
#include <vector>

#include "heap_report/heap_report.h"
#include "heap_report/proc_maps.h"
#include "heap_report/raw_samples.h"

extern char** environ;

namespace memvisor {
namespace {

// The 1-based number of the first line of `path` holding `marker`; -1 when none does.
int line_of(const char* path, const std::string& marker) {
  std::ifstream source(path);
  std::string line;
  for (int number = 1; std::getline(source, line); ++number)
    if (line.find(marker) != std::string::npos) return number;
  return -1;
}

int leak_site_line() {
  return line_of(LEAK_SOURCE, "// LEAK SITE");
}

// Runs `program` with the library armed for the whole run; returns its exit status.
int run_armed(const std::string& program, const std::string& raw_path,
              const std::vector<std::string>& args, const std::string& interval,
              const std::vector<std::string>& extra_env = {}) {
  std::vector<std::string> env_strings(extra_env);
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

// C++ containers and strings are the standard library's code, inlined into the program or
// instantiated in it (std::vector<std::string>::_M_realloc_insert): their allocations are charged
// to the program's function that grew them, at its own line, never to a header of /usr/include.
TEST_F(SamplerReport, CxxContainersAreChargedToTheProgramsFunctionAndLine) {
  const std::string raw_path = (dir_ / "cxx.raw").string();
  ASSERT_EQ(run_workload(raw_path, {"16", "256"}), 0);
  const auto raw = read_raw_samples(raw_path);
  ASSERT_TRUE(raw.ok()) << raw.error().describe();
  DwarfSymbolizer symbols(parse_proc_maps(raw->maps));
  const HeapReport report = build_heap_report(*raw, symbols);
  SCOPED_TRACE(heap_report_summary(report));
  const ReportRow* churn =
      entry_for(report.by_function, "(anonymous namespace)::churn_cxx(unsigned long)");
  ASSERT_NE(churn, nullptr);
  EXPECT_GT(churn->allocated.samples, 10u);
  for (const ReportRow& row : report.by_function)
    EXPECT_EQ(row.key.find("std::"), std::string::npos) << row.key;
  for (const ReportRow& row : report.by_location)
    EXPECT_FALSE(row.key.starts_with("/usr/include/")) << row.key;
  const int emplace = line_of(WORKLOAD_SOURCE, "words.emplace_back(");
  ASSERT_GT(emplace, 0);
  bool found = false;
  for (const ReportRow& row : report.by_location)
    found = found || row.key.ends_with("sampler_workload.cc:" + std::to_string(emplace));
  EXPECT_TRUE(found) << "no row at sampler_workload.cc:" << emplace;
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
  EXPECT_EQ(report.unwinder, "libunwind, cached per return address");
}

// The interpreter itself (a pyenv shim is a shell script), from `python3` on the PATH.
std::string python_executable() {
  FILE* out = popen("python3 -c 'import sys; print(sys.executable)'", "r");
  if (out == nullptr) return "";
  char line[4096] = {};
  const bool got = fgets(line, sizeof line, out) != nullptr;
  pclose(out);
  std::string path = got ? line : "";
  while (!path.empty() && path.back() == '\n') path.pop_back();
  return path;
}

// Each sample as its size and its frames named by object and offset, so that two runs with
// different load addresses compare.
std::multiset<std::string> samples_by_object(const RawSamples& raw) {
  const auto maps = parse_proc_maps(raw.maps);
  std::multiset<std::string> out;
  for (const auto& sample : raw.samples) {
    std::string key = std::to_string(sample.size);
    for (const uint64_t frame : sample.frames) {
      const MapEntry* map = find_mapping(maps, frame);
      char offset[32];
      std::snprintf(offset, sizeof offset, "+%llx",
                    static_cast<unsigned long long>(map ? frame - map->start + map->offset : 0));
      key += " " + (map ? map->path : std::string("?")) + offset;
    }
    out.insert(std::move(key));
  }
  return out;
}

// Runs `program` twice with every allocation sampled (interval 1): once walked by libunwind, once
// stepped by the cached rules. Both runs carry a variable of the same size, so that the program
// allocates alike; only the first one's name is the sampler's. The two must record the same
// stacks.
void expect_cached_rules_match_libunwind(const std::filesystem::path& dir,
                                         const std::string& program,
                                         const std::vector<std::string>& args) {
  const std::string walked = (dir / "libunwind.raw").string();
  const std::string stepped = (dir / "cached.raw").string();
  ASSERT_EQ(run_armed(program, walked, args, "1",
                      {"PYTHONHASHSEED=0", "MEMVISOR_SAMPLER_UNWIND=libunwind"}),
            0);
  ASSERT_EQ(run_armed(program, stepped, args, "1",
                      {"PYTHONHASHSEED=0", "MEMVISOR_SAMPLER_UNWINX=libunwind"}),
            0);
  const auto by_libunwind = read_raw_samples(walked);
  const auto by_rules = read_raw_samples(stepped);
  ASSERT_TRUE(by_libunwind.ok() && by_rules.ok());
  EXPECT_EQ(by_libunwind->unwinder, "libunwind");
  EXPECT_EQ(by_rules->unwinder, "libunwind, cached per return address");
  // libunwind walked every stack in the first run, and in the second only those through a
  // return address not seen before (a few hundred, against thousands of samples).
  EXPECT_GE(by_libunwind->libunwind_walks, by_libunwind->samples.size());
  EXPECT_LT(by_rules->libunwind_walks, by_rules->samples.size() / 5);
  const auto expected = samples_by_object(*by_libunwind);
  const auto got = samples_by_object(*by_rules);
  ASSERT_GT(expected.size(), 1000u);
  size_t deep = 0;
  for (const auto& sample : got) deep += std::count(sample.begin(), sample.end(), ' ') >= 6;
  EXPECT_GT(deep, got.size() / 2) << "most stacks go through the program's own frames";
  std::vector<std::string> missing, extra;
  std::set_difference(expected.begin(), expected.end(), got.begin(), got.end(),
                      std::back_inserter(missing));
  std::set_difference(got.begin(), got.end(), expected.begin(), expected.end(),
                      std::back_inserter(extra));
  // The program itself may make an allocation more or less from one run to the next.
  EXPECT_LE(missing.size(), expected.size() / 100) << (missing.empty() ? "" : missing[0]);
  EXPECT_LE(extra.size(), got.size() / 100) << (extra.empty() ? "" : extra[0]);
}

TEST_F(SamplerReport, CachedFrameRulesFindTheStacksLibunwindFindsInPython) {
  // python3: a program no one here wrote, built without frame pointers.
  const std::string python = python_executable();
  ASSERT_FALSE(python.empty());
  expect_cached_rules_match_libunwind(dir_, python,
                                      {"-c",
                                       "import json; d = {str(i): [i] * 20 for i in range(3000)}; "
                                       "print(len(json.loads(json.dumps(d))))"});
}

TEST_F(SamplerReport, CachedFrameRulesFindTheStacksLibunwindFindsInSqlite) {
  // sqlite3 from Debian: a recursive query, an index, an aggregate.
  ASSERT_TRUE(std::filesystem::exists("/usr/bin/sqlite3"));
  expect_cached_rules_match_libunwind(
      dir_, "/usr/bin/sqlite3",
      {":memory:",
       "create table t(a integer primary key, b text, c real);"
       "with recursive n(x) as (select 1 union all select x + 1 from n where x < 20000)"
       " insert into t select x, 'name' || (x % 500), x % 1000 from n;"
       "create index t_b on t(b);"
       "select count(*), sum(c), count(distinct b) from t;"});
}

TEST_F(SamplerReport, FramePointerWalkFollowsAProgramBuiltWithThem) {
  // MEMVISOR_SAMPLER_UNWIND=fp on the workload and library built with frame pointers: the leak's
  // stack is leak_known_bytes called from main, as libunwind has it.
  const std::string raw_path = (dir_ / "fp.raw").string();
  ASSERT_EQ(run_armed(SAMPLER_WORKLOAD, raw_path, {"64", "64"}, "", {"MEMVISOR_SAMPLER_UNWIND=fp"}),
            0);
  const auto raw = read_raw_samples(raw_path);
  ASSERT_TRUE(raw.ok()) << raw.error().describe();
  EXPECT_EQ(raw->unwinder, "frame pointers");
  EXPECT_EQ(raw->libunwind_walks, 0u);
  DwarfSymbolizer symbols(parse_proc_maps(raw->maps));
  const HeapReport report = build_heap_report(*raw, symbols);
  SCOPED_TRACE(heap_report_summary(report));
  ASSERT_FALSE(report.top_stacks.empty());
  const auto& frames = report.top_stacks[0].frames;
  ASSERT_GE(frames.size(), 2u);
  EXPECT_EQ(frames[0].rfind("leak_known_bytes (", 0), 0u) << frames[0];
  EXPECT_EQ(frames[1].rfind("main (", 0), 0u) << frames[1];
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
