// Log rotation by size: the pure decisions, the renames on a temp dir, and AppendLog rotating
// between whole lines, also with two appenders on one file (the controller and the supervisor).
#include "os/log_rotation.h"

#include <gtest/gtest.h>

#include <sstream>

#include "os/files.h"
#include "os/test_temp_dir.h"

namespace memvisor {
namespace {

TEST(RotationDue, OnlyWhenANonEmptyFileWouldPassTheLimit) {
  EXPECT_FALSE(rotation_due(0, 10, 100));
  EXPECT_FALSE(rotation_due(90, 10, 100));  // exactly at the limit fits
  EXPECT_TRUE(rotation_due(91, 10, 100));
  EXPECT_FALSE(rotation_due(1000, 10, 0));   // 0: never
  EXPECT_FALSE(rotation_due(0, 5000, 100));  // a long line into an empty file: written whole
  EXPECT_TRUE(rotation_due(1, 5000, 100));
}

TEST(RotationRenames, OldestFirstEndingWithTheCurrentFile) {
  using Renames = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(rotation_renames("/s/e.jsonl", 3), (Renames{{"/s/e.jsonl.2", "/s/e.jsonl.3"},
                                                        {"/s/e.jsonl.1", "/s/e.jsonl.2"},
                                                        {"/s/e.jsonl", "/s/e.jsonl.1"}}));
  EXPECT_EQ(rotation_renames("l", 1), (Renames{{"l", "l.1"}}));
  EXPECT_TRUE(rotation_renames("l", 0).empty());
}

std::string read_all(const std::string& path) {
  auto text = read_file(path);
  return text ? *text : "<missing>";
}

TEST(RotateLogFiles, ShiftsDropsTheOldestAndFilesPastKeep) {
  TestTempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string log = dir / "x.log";
  for (const char* name : {"x.log", "x.log.1", "x.log.2", "x.log.3", "x.log.4"}) {
    ASSERT_TRUE(write_file_atomically(dir / name, name, 0600).ok());
  }
  ASSERT_TRUE(rotate_log_files(log, 2).ok());
  EXPECT_EQ(read_all(dir / "x.log.1"), "x.log");
  EXPECT_EQ(read_all(dir / "x.log.2"), "x.log.1");
  EXPECT_EQ(read_all(dir / "x.log.3"), "<missing>");  // past keep = 2: gone
  EXPECT_EQ(read_all(dir / "x.log.4"), "<missing>");
  EXPECT_EQ(read_all(log), "<missing>");
  EXPECT_EQ(existing_rotated_logs(log), (std::vector<std::string>{log + ".2", log + ".1"}));
}

TEST(RotateLogFiles, MissingRotatedFilesAreSkipped) {
  TestTempDir dir;
  ASSERT_TRUE(dir.ok());
  ASSERT_TRUE(write_file_atomically(dir / "y.log", "now", 0600).ok());
  ASSERT_TRUE(rotate_log_files(dir / "y.log", 3).ok());
  EXPECT_EQ(read_all(dir / "y.log.1"), "now");
  EXPECT_TRUE(existing_rotated_logs(dir / "nothing.log").empty());
}

// Every line once, in order, across PATH.keep … PATH.1, PATH; no file above the limit unless it
// holds a single line.
std::vector<std::string> all_lines(const std::string& path) {
  std::vector<std::string> lines;
  auto files = existing_rotated_logs(path);
  files.push_back(path);
  for (const std::string& file : files) {
    std::istringstream in(read_all(file));
    for (std::string line; std::getline(in, line);) lines.push_back(line);
  }
  return lines;
}

TEST(AppendLogRotation, WholeLinesAtMostKeepOldFiles) {
  TestTempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string path = dir / "events.jsonl";
  auto log = AppendLog::open(path, 0600);
  ASSERT_TRUE(log.ok());
  log->set_rotation({100, 2});
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(log->append_line("line " + std::to_string(i)).ok());  // 7 or 8 bytes
  }
  auto files = existing_rotated_logs(path);
  EXPECT_EQ(files.size(), 2u);
  for (const std::string& file : files) {
    const std::string text = read_all(file);
    EXPECT_LE(text.size(), 100u) << file;
    EXPECT_GT(text.size(), 90u) << file;  // filled up to the limit, not rotated early
    EXPECT_EQ(text.back(), '\n') << file;
    EXPECT_EQ(text.rfind("line ", 0), 0u) << file;
  }
  // The newest lines are all there and in order; older ones went with the dropped files.
  auto lines = all_lines(path);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back(), "line 49");
  const int first = std::stoi(lines.front().substr(5));
  for (size_t i = 0; i < lines.size(); ++i) {
    EXPECT_EQ(lines[i], "line " + std::to_string(first + static_cast<int>(i)));
  }
}

TEST(AppendLogRotation, TwoAppendersRotateOnceAndLoseNothing) {
  TestTempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string path = dir / "events.jsonl";
  auto a = AppendLog::open(path, 0600);
  auto b = AppendLog::open(path, 0600);
  ASSERT_TRUE(a.ok() && b.ok());
  a->set_rotation({200, 1000});
  b->set_rotation({200, 1000});
  for (int i = 0; i < 100; ++i) {
    ASSERT_TRUE((i % 3 == 0 ? *b : *a).append_line("n " + std::to_string(i)).ok());
  }
  auto lines = all_lines(path);
  ASSERT_EQ(lines.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(lines[static_cast<size_t>(i)], "n " + std::to_string(i));
  for (const std::string& file : existing_rotated_logs(path)) {
    EXPECT_LE(read_all(file).size(), 200u) << file;
    EXPECT_GT(read_all(file).size(), 150u) << file;  // no double rotation leaving a tiny file
  }
}

TEST(AppendLogRotation, ZeroNeverRotates) {
  TestTempDir dir;
  ASSERT_TRUE(dir.ok());
  auto log = AppendLog::open(dir / "a.log", 0600);
  ASSERT_TRUE(log.ok());
  log->set_rotation({0, 3});
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(log->append_line("0123456789").ok());
  EXPECT_TRUE(existing_rotated_logs(dir / "a.log").empty());
  EXPECT_EQ(read_all(dir / "a.log").size(), 1100u);
}

}  // namespace
}  // namespace memvisor
