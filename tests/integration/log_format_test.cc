// memvisor's stderr as a log: journald's "<N>" priority prefix on every line when JOURNAL_STREAM
// names the file stderr is (and on none when it does not), and `--log-format json`, where every
// line of stderr and stdout, the supervisor's and the relayed workers' too, is one JSON object.
#include <signal.h>
#include <sys/stat.h>

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>
#include <string>
#include <vector>

#include "harness.h"

namespace memvisor::testing {
namespace {

// Writes a line to stdout, two to stderr (one with its own sd-daemon priority), then waits.
const char* kChattyWorker =
    "echo out-line; echo err-line >&2; echo '<3>own priority' >&2; exec sleep 60";

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// JOURNAL_STREAM for the file at `path` (its device and inode, as systemd writes them), with
// `inode_offset` added to make one that names another file.
std::string journal_stream_of(const std::string& path, int inode_offset = 0) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "";
  return "JOURNAL_STREAM=" + std::to_string(st.st_dev) + ":" +
         std::to_string(st.st_ino + static_cast<ino_t>(inode_offset));
}

// Runs the chatty worker under memvisor (with its HTTP endpoint, so that the supervisor process
// has a line of its own to write) until every line is out, then stops it. Returns the exit code.
int run_chatty(const TempDir& dir, Memvisor& memvisor) {
  const bool all_out = eventually(
      [&] {
        const std::string err = memvisor.err();
        return err.find("own priority") != std::string::npos &&
               err.find("/metrics") != std::string::npos &&
               memvisor.out().find("out-line") != std::string::npos;
      },
      15s);
  EXPECT_TRUE(all_out) << memvisor.err();
  (void)dir;
  memvisor.signal(SIGTERM);
  return memvisor.wait(30s);
}

std::vector<std::string> chatty_args() {
  return {
      "--http",     "127.0.0.1:" + std::to_string(free_port()), "--name", "web", "--shell", "--",
      kChattyWorker};
}

TEST(LogFormat, UnderJournaldEveryStderrLineCarriesItsPriority) {
  TempDir dir;
  dir.write("memvisor.err", "");  // the harness truncates it: same inode
  Memvisor memvisor(dir, chatty_args(), {}, {journal_stream_of(dir.file("memvisor.err"))});
  ASSERT_EQ(run_chatty(dir, memvisor), 0) << memvisor.err();

  const auto lines = lines_of(memvisor.err());
  ASSERT_GE(lines.size(), 5u);
  const std::regex prefixed("^<[0-7]>.+");
  for (const std::string& line : lines) EXPECT_TRUE(std::regex_match(line, prefixed)) << line;
  const std::string err = memvisor.err();
  EXPECT_NE(err.find("<6>web.1 | err-line\n"), std::string::npos) << err;
  EXPECT_NE(err.find("<3>web.1 | own priority\n"), std::string::npos) << err;  // the worker's own
  EXPECT_NE(err.find("<5>memvisor: starting"), std::string::npos) << err;
  EXPECT_NE(err.find("<5>memvisor: serving /metrics"), std::string::npos) << err;  // supervisor
  EXPECT_NE(err.find("<6>memvisor: web.1: started"), std::string::npos) << err;
  // JOURNAL_STREAM names stderr, not stdout: stdout's lines go out as they were.
  EXPECT_NE(memvisor.out().find("web.1 | out-line\n"), std::string::npos) << memvisor.out();
  EXPECT_EQ(memvisor.out().find('<'), std::string::npos) << memvisor.out();
}

TEST(LogFormat, AJournalStreamOfAnotherFileAddsNoPrefix) {
  TempDir dir;
  dir.write("memvisor.err", "");
  Memvisor memvisor(dir, chatty_args(), {}, {journal_stream_of(dir.file("memvisor.err"), 1)});
  ASSERT_EQ(run_chatty(dir, memvisor), 0) << memvisor.err();
  const std::string err = memvisor.err();
  EXPECT_NE(err.find("web.1 | <3>own priority\n"), std::string::npos) << err;
  for (const std::string& line : lines_of(err)) EXPECT_NE(line.front(), '<') << line;
}

TEST(LogFormat, JsonGivesOneObjectPerLineOnStderrAndStdout) {
  TempDir dir;
  auto args = chatty_args();
  args.insert(args.begin(), {"--log-format", "json"});
  Memvisor memvisor(dir, args);
  ASSERT_EQ(run_chatty(dir, memvisor), 0) << memvisor.err();

  std::vector<nlohmann::json> err;
  for (const std::string& line : lines_of(memvisor.err())) {
    auto json = nlohmann::json::parse(line, nullptr, false);
    ASSERT_TRUE(json.is_object()) << "not a JSON object: " << line;
    EXPECT_TRUE(json.contains("ts")) << line;
    err.push_back(std::move(json));
  }
  auto find = [&](auto predicate) {
    return std::find_if(err.begin(), err.end(), predicate) != err.end();
  };
  // Events: the level, the event, the instance.
  EXPECT_TRUE(find([](const nlohmann::json& j) {
    return j.value("event", "") == "started" && j.value("service", "") == "web" &&
           j.value("instance", 0) == 1 && j.value("level", "") == "info" && j.value("pid", 0) > 0;
  }));
  EXPECT_TRUE(find([](const nlohmann::json& j) {
    return j.value("event", "") == "memvisor_stopped" && j.value("level", "") == "notice";
  }));
  // A plain message of the supervisor process: exactly ts, level and message.
  EXPECT_TRUE(find([](const nlohmann::json& j) {
    return j.size() == 3 && j.value("message", "").find("/metrics") != std::string::npos &&
           j.contains("level");
  }));
  // The worker's stderr, relayed.
  EXPECT_TRUE(find([](const nlohmann::json& j) {
    return j.value("source", "") == "web.1" && j.value("stream", "") == "stderr" &&
           j.value("line", "") == "err-line";
  }));

  const auto out = lines_of(memvisor.out());
  ASSERT_EQ(out.size(), 1u) << memvisor.out();
  const auto line = nlohmann::json::parse(out[0], nullptr, false);
  ASSERT_TRUE(line.is_object()) << out[0];
  EXPECT_EQ(line.value("source", ""), "web.1");
  EXPECT_EQ(line.value("stream", ""), "stdout");
  EXPECT_EQ(line.value("line", ""), "out-line");
}

TEST(LogFormat, TheConfigFileChoosesJsonUnlessTheFlagSaysText) {
  TempDir dir;
  const std::string config =
      dir.write("web.toml",
                "[supervisor]\nlog_format = \"json\"\n[service.web]\ncommand = [\"sleep\", "
                "\"60\"]\n");
  Memvisor from_file(dir, {config});
  ASSERT_EQ(from_file.wait_events("ready", 1, 10s, "web.1").size(), 1u) << from_file.err();
  from_file.signal(SIGTERM);
  ASSERT_EQ(from_file.wait(30s), 0) << from_file.err();
  const auto lines = lines_of(from_file.err());
  ASSERT_FALSE(lines.empty());
  for (const std::string& line : lines) {
    EXPECT_TRUE(nlohmann::json::parse(line, nullptr, false).is_object()) << line;
  }

  TempDir text_dir;
  Memvisor flag_wins(text_dir, {"--log-format", "text", config});
  ASSERT_EQ(flag_wins.wait_events("ready", 1, 10s, "web.1").size(), 1u) << flag_wins.err();
  flag_wins.signal(SIGTERM);
  ASSERT_EQ(flag_wins.wait(30s), 0) << flag_wins.err();
  EXPECT_NE(flag_wins.err().find("memvisor: web.1: started"), std::string::npos) << flag_wins.err();
  EXPECT_EQ(flag_wins.err().find('{'), std::string::npos) << flag_wins.err();
}

TEST(LogFormat, AnUnknownFormatIsAUsageError) {
  const auto result = run_memvisor({"run", "--log-format", "yaml", "--", "true"});
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("--log-format: expected text or json, got 'yaml'"), std::string::npos)
      << result.err;
}

TEST(LogFormat, JsonModeReportsABrokenConfigAsJson) {
  TempDir dir;
  const std::string config = dir.write("broken.toml", "[service.web]\ncommand = 3\n");
  const auto result = run_memvisor({"run", "--log-format", "json", config});
  EXPECT_EQ(result.exit_code, 2);
  const auto lines = lines_of(result.err);
  ASSERT_EQ(lines.size(), 1u) << result.err;
  const auto json = nlohmann::json::parse(lines[0], nullptr, false);
  ASSERT_TRUE(json.is_object()) << lines[0];
  EXPECT_EQ(json.value("level", ""), "error");
  EXPECT_NE(json.value("message", "").find("broken.toml:2:"), std::string::npos) << lines[0];
}

}  // namespace
}  // namespace memvisor::testing
