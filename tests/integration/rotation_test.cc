// Rotation by size on the real binary, with tiny limits: an output = "file" worker's log and
// events.jsonl move to .1 … .keep between whole lines; no line is split or lost across the files;
// `memvisor events` (also --follow) reads across rotations; a reload changes the limits in place;
// bad sizes and counts are refused with file:line:column.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <set>
#include <sstream>

#include "harness.h"

namespace memvisor::testing::rotation {
namespace {

bool exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

// PATH.N … PATH.1 that exist, oldest first, then PATH.
std::vector<std::string> log_files(const std::string& path) {
  std::vector<std::string> files;
  for (int n = 1; exists(path + "." + std::to_string(n)); ++n) {
    files.insert(files.begin(), path + "." + std::to_string(n));
  }
  files.push_back(path);
  return files;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

std::vector<std::string> lines_across(const std::string& path) {
  std::vector<std::string> all;
  for (const std::string& file : log_files(path)) {
    for (std::string& line : lines_of(read_text(file))) all.push_back(std::move(line));
  }
  return all;
}

// A worker that prints `count` numbered lines of 40 bytes to stdout, then waits.
std::string chatty_service(const std::string& name, int count, const std::string& extra) {
  return "[service." + name + "]\nshell = true\ncommand = \"i=0; while [ $i -lt " +
         std::to_string(count) +
         " ]; do printf 'line %06d abcdefghijklmnopqrstuvwxyz\\n' $i; i=$((i+1)); done; "
         "exec sleep 600\"\noutput = \"file\"\n" +
         extra + "\n";
}

std::string line_text(int i) {
  char text[64];
  std::snprintf(text, sizeof text, "line %06d abcdefghijklmnopqrstuvwxyz", i);
  return text;
}

TEST(Rotation, WorkerLogRotatesBetweenWholeLinesAndKeepsAtMostKeep) {
  TempDir dir;
  const std::string logs = dir.file("logs");
  // 2,000 lines of 40 bytes: ~80 KB through 4 KiB files, so most are dropped; `whole` writes
  // 300 lines (12 KB), which fit in the current file and 3 rotated ones: none may be lost.
  // `never` (log_max_size = "0") is the negative control: the same output, one file.
  const std::string config = dir.write(
      "m.toml",
      chatty_service("many", 2000,
                     "log_dir = \"" + logs + "\"\nlog_max_size = \"4KiB\"\nlog_keep = 3") +
          chatty_service("whole", 300,
                         "log_dir = \"" + logs + "\"\nlog_max_size = \"4KiB\"\nlog_keep = 3") +
          chatty_service("never", 2000, "log_dir = \"" + logs + "\"\nlog_max_size = \"0\""));
  Memvisor memvisor(dir, {config});
  for (const char* name : {"many", "whole", "never"}) {
    const std::string path = logs + "/" + name + ".1.log";
    const int last = std::string(name) == "whole" ? 299 : 1999;
    ASSERT_TRUE(eventually(
        [&] {
          auto lines = lines_across(path);
          return !lines.empty() && lines.back() == line_text(last);
        },
        30s))
        << name << ": " << memvisor.err();
  }

  // many: at most 3 rotated files, each within the limit, every line whole; together a
  // contiguous run of the newest lines.
  const std::string many = logs + "/many.1.log";
  EXPECT_TRUE(exists(many + ".3"));
  EXPECT_FALSE(exists(many + ".4"));
  for (const std::string& file : log_files(many)) {
    const std::string text = read_text(file);
    EXPECT_LE(text.size(), 4096u) << file;
    ASSERT_FALSE(text.empty()) << file;
    EXPECT_EQ(text.back(), '\n') << file;
  }
  auto lines = lines_across(many);
  ASSERT_GT(lines.size(), 300u);
  const int first = 2000 - static_cast<int>(lines.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    ASSERT_EQ(lines[i], line_text(first + static_cast<int>(i))) << "at " << i;
  }

  // whole: every line, in order, once, across the files.
  const std::string whole = logs + "/whole.1.log";
  EXPECT_TRUE(exists(whole + ".2"));
  lines = lines_across(whole);
  ASSERT_EQ(lines.size(), 300u);
  for (int i = 0; i < 300; ++i) EXPECT_EQ(lines[static_cast<size_t>(i)], line_text(i));

  // never: one file with everything.
  EXPECT_FALSE(exists(logs + "/never.1.log.1"));
  EXPECT_EQ(lines_of(read_text(logs + "/never.1.log")).size(), 2000u);
}

TEST(Rotation, ReloadChangesTheLogLimitInPlace) {
  TempDir dir;
  const std::string logs = dir.file("logs");
  auto config = [&](const std::string& size) {
    return "[service.tick]\nshell = true\ncommand = \"i=0; while :; do printf 'tick %06d "
           "abcdefghijklmnopqrstuvwxyz\\n' $i; i=$((i+1)); sleep 0.01; done\"\noutput = "
           "\"file\"\nlog_dir = \"" +
           logs + "\"\nlog_max_size = \"" + size + "\"\n";
  };
  const std::string path = dir.write("t.toml", config("0"));
  Memvisor memvisor(dir, {path});
  const std::string log = logs + "/tick.1.log";
  ASSERT_TRUE(eventually([&] { return read_text(log).size() > 3000; }, 30s)) << memvisor.err();
  EXPECT_FALSE(exists(log + ".1"));
  dir.write("t.toml", config("2KiB"));
  auto reloaded = run_memvisor({"reload", "--state-dir", memvisor.state_dir()});
  ASSERT_EQ(reloaded.exit_code, 0) << reloaded.out << reloaded.err;
  ASSERT_TRUE(eventually([&] { return exists(log + ".2"); }, 30s)) << memvisor.err();
  EXPECT_EQ(memvisor.events("started").size(), 1u);  // the worker was not replaced
  // Numbered ticks stay contiguous across the rotation: nothing lost, nothing split.
  auto lines = lines_across(log);
  ASSERT_GT(lines.size(), 100u);
  const int first = std::stoi(lines.front().substr(5, 6));
  for (size_t i = 0; i + 1 < lines.size(); ++i) {  // the last may be mid-check; all are whole
    char want[64];
    std::snprintf(want, sizeof want, "tick %06d abcdefghijklmnopqrstuvwxyz",
                  first + static_cast<int>(i));
    ASSERT_EQ(lines[i], want) << "at " << i;
  }
}

// Generations of the "started" events in JSON lines, in order.
std::vector<int> started_generations(const std::string& text) {
  std::vector<int> generations;
  for (const std::string& line : lines_of(text)) {
    auto json = nlohmann::json::parse(line, nullptr, false);
    if (json.is_object() && json.value("event", "") == "started") {
      generations.push_back(json.value("generation", 0));
    }
  }
  return generations;
}

TEST(Rotation, EventsRotateAndTheEventsCommandReadsAcrossThem) {
  TempDir dir;
  // The worker exits at once 39 times (each run: started, exited, restarting... events), then
  // stays: a bounded stream of events through 4 KiB files, all kept (events_keep = 20).
  const std::string count = dir.file("runs");
  const std::string config =
      dir.write("e.toml",
                "[supervisor]\nevents_max_size = \"4KiB\"\nevents_keep = 20\n"
                "[service.flap]\nshell = true\ncommand = \"n=$(cat " +
                    count + " 2>/dev/null || echo 0); n=$((n+1)); echo $n > " + count +
                    "; [ $n -ge 40 ] && exec sleep 600; exit 1\"\n"
                    "restart_delay = \"50ms\"\nrestart_backoff = 1.0\nrestart_delay_max = "
                    "\"50ms\"\ncircuit_failures = 1000\n");
  Memvisor memvisor(dir, {config});
  const std::string state = memvisor.state_dir();

  // Follow from the start, through every rotation.
  const std::string out = dir.file("follow.out");
  ASSERT_TRUE(eventually([&] { return exists(state + "/events.jsonl"); }, 10s));
  const pid_t follower = ::fork();
  ASSERT_GE(follower, 0);
  if (follower == 0) {
    std::freopen(out.c_str(), "w", stdout);
    ::execl(MEMVISOR_BINARY, MEMVISOR_BINARY, "events", "--follow", "--json", "--state-dir",
            state.c_str(), static_cast<char*>(nullptr));
    ::_exit(127);
  }
  struct Reaper {  // also when an assertion below returns early
    pid_t pid;
    ~Reaper() {
      ::kill(pid, SIGTERM);
      ::waitpid(pid, nullptr, 0);
    }
  } reaper{follower};

  std::vector<int> all(40);
  for (int i = 0; i < 40; ++i) all[static_cast<size_t>(i)] = i + 1;
  CommandResult shown;
  ASSERT_TRUE(eventually(
      [&] {
        shown = run_memvisor({"events", "--json", "--state-dir", state});
        return started_generations(shown.out) == all;
      },
      60s))
      << shown.out << shown.err << memvisor.err();
  EXPECT_TRUE(exists(state + "/events.jsonl.2")) << "the events rotated more than once";
  for (const std::string& file : log_files(state + "/events.jsonl")) {
    const std::string text = read_text(file);
    EXPECT_LE(text.size(), 4096u) << file;
    for (const std::string& line : lines_of(text)) {
      EXPECT_TRUE(nlohmann::json::parse(line, nullptr, false).is_object()) << file << ": " << line;
    }
  }
  // The command shows exactly the files' lines, oldest first.
  std::string concatenated;
  for (const std::string& file : log_files(state + "/events.jsonl"))
    concatenated += read_text(file);
  EXPECT_EQ(shown.out, concatenated);
  auto last = run_memvisor({"events", "--json", "--last", "3", "--state-dir", state});
  ASSERT_EQ(last.exit_code, 0) << last.err;
  auto every = lines_of(shown.out);
  EXPECT_EQ(lines_of(last.out), std::vector<std::string>(every.end() - 3, every.end()));

  // The follower saw every run once, across the rotations.
  EXPECT_TRUE(eventually([&] { return started_generations(read_text(out)) == all; }, 20s))
      << read_text(out);
}

TEST(Rotation, BadSizesAndCountsAreRefusedWithTheirPlace) {
  TempDir dir;
  const std::string bad =
      dir.write("bad.toml",
                "[service.web]\ncommand = [\"sleep\", \"60\"]\noutput = \"file\"\nlog_keep = 0\n");
  auto checked = run_memvisor({"check", bad});
  EXPECT_EQ(checked.exit_code, 2);
  EXPECT_NE(
      checked.err.find("bad.toml:4:12: service.web.log_keep: expected a positive integer, got 0"),
      std::string::npos)
      << checked.err;
  const std::string size = dir.write(
      "size.toml",
      "[supervisor]\nevents_max_size = \"64 MiB\"\n[service.web]\ncommand = [\"sleep\", \"60\"]\n");
  checked = run_memvisor({"check", size});
  EXPECT_EQ(checked.exit_code, 2);
  EXPECT_NE(checked.err.find("size.toml:2:19: supervisor.events_max_size:"), std::string::npos)
      << checked.err;
  const std::string good =
      dir.write("good.toml",
                "[supervisor]\nevents_max_size = \"0\"\nevents_keep = 2\n[service.web]\ncommand "
                "= [\"sleep\", \"60\"]\nlog_max_size = \"1MiB\"\nlog_keep = 7\n");
  checked = run_memvisor({"check", good});
  EXPECT_EQ(checked.exit_code, 0) << checked.err;
}

}  // namespace
}  // namespace memvisor::testing::rotation
