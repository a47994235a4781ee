// `heap_sampler = true` and `memvisor sample`: the real binary preloads the real library into a
// real worker, and a window of sampling finds the leak by function.
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <optional>
#include <thread>

#include "core/proc/environ_text.h"
#include "harness.h"
#include "small_disk.h"

namespace memvisor::testing {
namespace {

#ifdef MEMVISOR_SANITIZED
#define SKIP_UNDER_SANITIZERS() GTEST_SKIP() << "the heap sampler is not tested under sanitizers"
#else
#define SKIP_UNDER_SANITIZERS() (void)0
#endif

// The control page exists once the library has started in the worker (just after exec).
bool control_page_appears(const Memvisor& memvisor, int pid) {
  const std::string path = memvisor.state_dir() + "/sampler/" + std::to_string(pid) + ".ctl";
  return eventually([&] { return process_alive(pid) && !read_text(path).empty(); }, 10s);
}

// memvisor with one instance of the sampler workload allocating busily, the library armed in it;
// its pid (0 when it did not start).
int start_busy_worker(TempDir& dir, std::optional<Memvisor>& memvisor) {
  memvisor.emplace(dir, std::vector<std::string>{"--name", "web", "--heap-sampler", "--",
                                                 SAMPLER_WORKLOAD, "1", "8", "600", "busy"});
  if (memvisor->wait_events("started", 1, 10s).size() != 1u) return 0;
  const int pid = memvisor->events("started").at(0)["pid"];
  return control_page_appears(*memvisor, pid) ? pid : 0;
}

nlohmann::json read_json(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in, nullptr, false);
}

TEST(Sampler, SampleOfAnInstanceNamesTheLeakingFunction) {
  SKIP_UNDER_SANITIZERS();
  TempDir dir;
  std::optional<Memvisor> running;
  ASSERT_GT(start_busy_worker(dir, running), 0) << (running ? running->err() : "");
  Memvisor& memvisor = *running;
  const std::string out = dir.file("report.json");
  const auto result = run_memvisor({"sample", "web.1", "--duration", "2s", "--timeout", "30s",
                                    "--out", out, "--state-dir", memvisor.state_dir()},
                                   40s);
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_NE(result.out.find("leak_known_bytes"), std::string::npos) << result.out;
  const nlohmann::json report = read_json(out);
  ASSERT_TRUE(report.is_object());
  EXPECT_TRUE(report["complete"].get<bool>());
  ASSERT_FALSE(report["by_function"].empty());
  EXPECT_EQ(report["by_function"][0]["function"], "leak_known_bytes") << report.dump(2);
  EXPECT_GT(report["total_retained"]["samples"].get<int>(), 0);
  EXPECT_GT(report["total_allocated"]["bytes"].get<double>(),
            report["total_retained"]["bytes"].get<double>());
  for (const auto& entry : std::filesystem::directory_iterator(memvisor.state_dir() + "/sampler"))
    EXPECT_NE(entry.path().extension(), ".raw") << entry.path();
}

// The sampler directory removed under memvisor (by hand, or a state dir mounted again without
// it): the next process's start makes it again, sticky as before, and that process is sampled.
TEST(Sampler, ASamplerDirectoryRemovedIsMadeAgainForTheNextProcess) {
  SKIP_UNDER_SANITIZERS();
  TempDir dir;
  std::optional<Memvisor> running;
  ASSERT_GT(start_busy_worker(dir, running), 0) << (running ? running->err() : "");
  Memvisor& memvisor = *running;
  const std::string sampler_dir = memvisor.state_dir() + "/sampler";
  std::filesystem::remove_all(sampler_dir);
  ASSERT_EQ(run_memvisor({"restart", "web.1", "--state-dir", memvisor.state_dir()}).exit_code, 0);
  ASSERT_EQ(memvisor.wait_events("recycled", 1, 10s, "web.1").size(), 1u) << memvisor.err();
  const int pid = memvisor.events("recycled", "web.1").at(0)["pid"];
  ASSERT_TRUE(control_page_appears(memvisor, pid)) << memvisor.err();
  EXPECT_EQ(std::filesystem::status(sampler_dir).permissions() & std::filesystem::perms::mask,
            std::filesystem::perms(01733));
  const auto result =
      run_memvisor({"sample", "web.1", "--duration", "1s", "--timeout", "30s", "--out",
                    dir.file("again.json"), "--state-dir", memvisor.state_dir()},
                   40s);
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_NE(result.out.find("leak_known_bytes"), std::string::npos) << result.out;
}

TEST(Sampler, ProcessThatNeverAllocatesStillAnswersWithinTheTimeout) {
  SKIP_UNDER_SANITIZERS();
  TempDir dir;
  Memvisor memvisor(dir,
                    {"--name", "quiet", "--heap-sampler", "--", SAMPLER_WORKLOAD, "1", "1", "600"});
  ASSERT_EQ(memvisor.wait_events("started", 1, 10s).size(), 1u) << memvisor.err();
  const int pid = memvisor.events("started").at(0)["pid"];
  ASSERT_TRUE(control_page_appears(memvisor, pid));
  const std::string out = dir.file("quiet.json");
  const auto result = run_memvisor(
      {"sample", "--pid", std::to_string(pid), "--duration", "1s", "--timeout", "3s", "--out", out},
      30s);
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_EQ(read_json(out)["total_allocated"]["samples"], 0);
}

TEST(Sampler, SampleWithoutTheLibraryIsAClearError) {
  SKIP_UNDER_SANITIZERS();
  TempDir dir;
  Memvisor memvisor(dir, {"--name", "plain", "--", "sleep", "600"});
  ASSERT_EQ(memvisor.wait_events("started", 1, 10s).size(), 1u) << memvisor.err();
  const auto result =
      run_memvisor({"sample", "plain.1", "--duration", "1s", "--state-dir", memvisor.state_dir()});
  EXPECT_EQ(result.exit_code, 1);
  EXPECT_NE(result.err.find("libmemvisor_sampler.so preloaded"), std::string::npos) << result.err;
}

// The LD_PRELOAD entry of a process's environment ("" when none).
std::string preload_of(int pid) {
  return environ_value(read_text("/proc/" + std::to_string(pid) + "/environ"), "LD_PRELOAD")
      .value_or("");
}

size_t occurrences(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(Sampler, TheLibraryIsLookedUpOnceAtStart) {
  SKIP_UNDER_SANITIZERS();
  TempDir dir;
  // Found at start: a replacement started after the file went away (a rebuild, an upgrade in
  // place) is given the same library as its siblings, not a fresh search's result.
  const std::string copy = dir.file("libmemvisor_sampler.so");
  std::filesystem::copy_file(SAMPLER_LIBRARY, copy);
  {
    Memvisor memvisor(dir, {"--name", "web", "--heap-sampler", "--", "sleep", "600"}, {},
                      {"MEMVISOR_SAMPLER_LIBRARY=" + copy});
    ASSERT_EQ(memvisor.wait_events("started", 1, 10s).size(), 1u) << memvisor.err();
    const int first = memvisor.events("started").at(0)["pid"];
    EXPECT_EQ(preload_of(first), copy);
    std::filesystem::remove(copy);
    ASSERT_EQ(run_memvisor({"restart", "web.1", "--state-dir", memvisor.state_dir()}).exit_code, 0);
    ASSERT_EQ(memvisor.wait_events("started", 2, 10s).size(), 2u) << memvisor.err();
    const int second = memvisor.events("started").at(1)["pid"];
    EXPECT_EQ(preload_of(second), copy);
    EXPECT_EQ(memvisor.err().find("not found"), std::string::npos) << memvisor.err();
  }
  // Not found at start: said once, and the services run without it.
  TempDir other;
  Memvisor memvisor(other, {"--name", "web", "--heap-sampler", "--", "sleep", "600"}, {},
                    {"MEMVISOR_SAMPLER_LIBRARY=" + copy});
  ASSERT_EQ(memvisor.wait_events("started", 1, 10s).size(), 1u) << memvisor.err();
  ASSERT_EQ(run_memvisor({"restart", "web.1", "--state-dir", memvisor.state_dir()}).exit_code, 0);
  ASSERT_EQ(memvisor.wait_events("started", 2, 10s).size(), 2u) << memvisor.err();
  EXPECT_EQ(preload_of(memvisor.events("started").at(1)["pid"]), "");
  EXPECT_EQ(occurrences(memvisor.err(), "libmemvisor_sampler.so not found"), 1u) << memvisor.err();
}

// No sample file is left in the state dir's sampler/ (a refused or finished window removes it).
bool no_raw_files(const std::string& state_dir) {
  for (const auto& entry : std::filesystem::directory_iterator(state_dir + "/sampler"))
    if (entry.path().extension() == ".raw") return false;
  return true;
}

// The sample file is written by the worker through a shared mapping, where a store into a page
// a full disk cannot hold is a SIGBUS: the worker's, not memvisor's. The library allocates the
// file's blocks ahead of the records; these show the worker living through a disk that is full
// before the window (refused) and one that fills during it (the log ends early).
TEST(Sampler, AFullDiskRefusesTheWindowAndTheWorkerLives) {
  SKIP_UNDER_SANITIZERS();
  TempDir dir;
  // A window needs 1 MiB free for its log's first chunk.
  SmallDisk disk(dir.file("state"), "4m");
  if (!disk.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here: " << disk.why();
  std::optional<Memvisor> running;
  const int pid = start_busy_worker(dir, running);
  ASSERT_GT(pid, 0) << (running ? running->err() : "");
  Memvisor& memvisor = *running;
  const std::string filler = disk.fill();

  const std::string out = dir.file("report.json");
  const std::vector<std::string> sample = {
      "sample", "web.1", "--duration", "1s",          "--timeout",
      "20s",    "--out", out,          "--state-dir", memvisor.state_dir()};
  const auto refused = run_memvisor(sample, 30s);
  EXPECT_EQ(refused.exit_code, 1) << refused.out << refused.err;
  EXPECT_NE(refused.err.find("cannot create the sample file"), std::string::npos) << refused.err;
  EXPECT_FALSE(std::filesystem::exists(out));
  EXPECT_TRUE(no_raw_files(memvisor.state_dir()));
  EXPECT_TRUE(process_alive(pid));
  EXPECT_EQ(memvisor.events("exited").size(), 0u) << memvisor.err();

  // Space again: the same worker answers the next window.
  std::filesystem::remove(filler);
  const auto answered = run_memvisor(sample, 30s);
  ASSERT_EQ(answered.exit_code, 0) << answered.out << answered.err;
  EXPECT_EQ(read_json(out)["by_function"][0]["function"], "leak_known_bytes");
  EXPECT_TRUE(process_alive(pid));
  EXPECT_TRUE(no_raw_files(memvisor.state_dir()));
}

TEST(Sampler, ADiskThatFillsDuringTheWindowEndsTheLogAndTheWorkerLives) {
  SKIP_UNDER_SANITIZERS();
  TempDir dir;
  SmallDisk disk(dir.file("state"), "4m");
  if (!disk.mounted()) GTEST_SKIP() << "cannot mount a tmpfs here: " << disk.why();
  std::optional<Memvisor> running;
  const int pid = start_busy_worker(dir, running);
  ASSERT_GT(pid, 0) << (running ? running->err() : "");
  Memvisor& memvisor = *running;
  // Room for the log's first 1 MiB chunk (allocated as the window opens) and not its second:
  // the worker allocates ~100 MiB/s, a sample every 4 KiB fills the first chunk in a fraction
  // of the window.
  disk.fill(std::uintmax_t{1536} * 1024);

  const std::string out = dir.file("report.json");
  const auto result =
      run_memvisor({"sample", "web.1", "--duration", "2s", "--interval", "4KiB", "--timeout", "20s",
                    "--out", out, "--state-dir", memvisor.state_dir()},
                   30s);
  EXPECT_TRUE(process_alive(pid));
  EXPECT_EQ(memvisor.events("exited").size(), 0u) << memvisor.err();
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  const nlohmann::json report = read_json(out);
  ASSERT_TRUE(report.is_object());
  EXPECT_GT(report.value("dropped_samples", 0), 0) << report.dump(2);
  ASSERT_FALSE(report["by_function"].empty());
  EXPECT_TRUE(no_raw_files(memvisor.state_dir()));
}

// A worker that dies during the window (an OOM kill, a crash) ends the sample at once with that
// reason; its control page stays behind, so without watching the process the wait lasted the
// whole --timeout and then "succeeded" with a report of unresolved frames.
TEST(Sampler, AWorkerThatExitsDuringTheWindowEndsTheSampleWithThatReason) {
  SKIP_UNDER_SANITIZERS();
  TempDir dir;
  std::optional<Memvisor> running;
  const int pid = start_busy_worker(dir, running);
  ASSERT_GT(pid, 0) << (running ? running->err() : "");
  Memvisor& memvisor = *running;
  CommandResult result;
  std::thread sample([&] {
    result = run_memvisor({"sample", "web.1", "--duration", "30s", "--timeout", "60s", "--out",
                           dir.file("gone.json"), "--state-dir", memvisor.state_dir()},
                          90s);
  });
  std::this_thread::sleep_for(2s);
  ::kill(pid, SIGKILL);
  sample.join();
  EXPECT_EQ(result.exit_code, 1) << result.out << result.err;
  EXPECT_NE(result.err.find("pid " + std::to_string(pid) + " exited"), std::string::npos)
      << result.err;
  EXPECT_FALSE(std::filesystem::exists(dir.file("gone.json")));
  for (const auto& entry : std::filesystem::directory_iterator(memvisor.state_dir() + "/sampler"))
    EXPECT_NE(entry.path().extension(), ".raw") << entry.path();
}

// `shell = true` without exec: the instance is `sh -c`, waiting on the program. Its sample is the
// program's, not the shell's (which never allocates: the wait lasted the whole --timeout).
TEST(Sampler, ACommandRunByAShellWithoutExecIsSampledThroughItsChild) {
  SKIP_UNDER_SANITIZERS();
  TempDir dir;
  const std::string config = dir.write(
      "shell.toml", std::string("[service.web]\ncommand = \"") + SAMPLER_WORKLOAD +
                        " 1 8 600 busy; echo done\"\nshell = true\nheap_sampler = true\n");
  Memvisor memvisor(dir, {config});
  ASSERT_EQ(memvisor.wait_events("started", 1, 10s).size(), 1u) << memvisor.err();
  const int shell = memvisor.events("started").at(0)["pid"];
  const std::string out = dir.file("child.json");
  const auto result = run_memvisor({"sample", "web.1", "--duration", "2s", "--timeout", "20s",
                                    "--out", out, "--state-dir", memvisor.state_dir()},
                                   40s);
  ASSERT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_NE(result.err.find("pid " + std::to_string(shell) + " is "), std::string::npos)
      << result.err;
  EXPECT_NE(result.err.find("sampling its child, pid "), std::string::npos) << result.err;
  const nlohmann::json report = read_json(out);
  ASSERT_FALSE(report["by_function"].empty()) << report.dump(2);
  EXPECT_EQ(report["by_function"][0]["function"], "leak_known_bytes") << report.dump(2);
  EXPECT_NE(report["pid"], shell);
}

// The report is written after the window: a directory it cannot be written in is said at once.
TEST(Sampler, AnUnwritableReportPathIsAUsageErrorBeforeTheWindow) {
  SKIP_UNDER_SANITIZERS();
  TempDir dir;
  std::optional<Memvisor> running;
  ASSERT_GT(start_busy_worker(dir, running), 0) << (running ? running->err() : "");
  const auto result =
      run_memvisor({"sample", "web.1", "--duration", "30s", "--out", dir.file("none/report.json"),
                    "--state-dir", running->state_dir()},
                   20s);
  EXPECT_EQ(result.exit_code, 2) << result.out << result.err;
  EXPECT_NE(result.err.find("--out: cannot write the report in " + dir.file("none")),
            std::string::npos)
      << result.err;
  EXPECT_EQ(result.out, "");
}

TEST(Sampler, BadDurationIsAUsageError) {
  const auto result = run_memvisor({"sample", "web.1", "--duration", "soon"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("--duration"), std::string::npos) << result.err;
}

}  // namespace
}  // namespace memvisor::testing
