// File operations on a temp dir: mkdir -p with modes, whole reads, atomic writes, the append log.
#include "os/files.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>

#include "os/test_temp_dir.h"

namespace memvisor {
namespace {

mode_t mode_of(const std::string& path) {
  struct stat st {};
  EXPECT_EQ(::stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

TEST(MakeDirectories, CreatesEveryLevelWithTheMode) {
  TestTempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string deep = dir / "a/b//c/";
  ASSERT_TRUE(make_directories(deep, 0750).ok());
  EXPECT_EQ(mode_of(dir / "a"), 0750u);
  EXPECT_EQ(mode_of(dir / "a/b/c"), 0750u);
  ASSERT_EQ(::chmod((dir / "a").c_str(), 0700), 0);
  EXPECT_TRUE(make_directories(deep, 0755).ok());  // existing directories are left as they are
  EXPECT_EQ(mode_of(dir / "a"), 0700u);
}

TEST(MakeDirectories, FileInTheWayIsAnError) {
  TestTempDir dir;
  ASSERT_TRUE(dir.ok());
  ASSERT_TRUE(write_file_atomically(dir / "f", "x", 0600).ok());
  Status made = make_directories(dir / "f/sub", 0700);
  ASSERT_FALSE(made.ok());
  // The message names the component in the way, not the path asked for.
  EXPECT_EQ(made.error().describe(), "create directory " + (dir / "f") + ": Not a directory");
}

TEST(ReadLink, TheTargetOrNothing) {
  TestTempDir dir;
  const std::string link = dir.path() + "/link";
  ASSERT_EQ(::symlink("/some/where", link.c_str()), 0);
  EXPECT_EQ(read_link(link), "/some/where");
  EXPECT_EQ(read_link(dir.path() + "/missing"), "");
  EXPECT_EQ(read_link(dir.path()), "");  // not a link
  EXPECT_FALSE(read_link("/proc/self/exe").empty());
}

TEST(ReadFile, ReadsProcFilesThatReportSizeZero) {
  auto text = read_file("/proc/self/stat");
  ASSERT_TRUE(text.ok()) << text.error().describe();
  EXPECT_EQ(text->rfind(std::to_string(::getpid()) + " (", 0), 0u);
  auto missing = read_file("/nonexistent/file");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.error().describe(), "open /nonexistent/file: No such file or directory");
}

TEST(WriteFileAtomically, ReplacesContentAndLeavesNoTempFile) {
  TestTempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string path = dir / "state.json";
  ASSERT_TRUE(write_file_atomically(path, "first", 0640).ok());
  ASSERT_TRUE(write_file_atomically(path, std::string(100000, 'y'), 0640).ok());
  auto text = read_file(path);
  ASSERT_TRUE(text.ok());
  EXPECT_EQ(*text, std::string(100000, 'y'));
  EXPECT_EQ(mode_of(path), 0640u);
  size_t entries = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir.path())) {
    ++entries;
    EXPECT_EQ(entry.path().filename(), "state.json");
  }
  EXPECT_EQ(entries, 1u);
}

TEST(WriteFileAtomically, FailureNamesTheTempFile) {
  Status written = write_file_atomically("/nonexistent/state.json", "x", 0600);
  ASSERT_FALSE(written.ok());
  EXPECT_EQ(written.error().describe(), "create /nonexistent/state.json.tmp." +
                                            std::to_string(::getpid()) +
                                            ": No such file or directory");
}

TEST(WriteFileAtomically, FailedRenameRemovesTheTempFile) {
  TestTempDir dir;
  ASSERT_TRUE(dir.ok());
  ASSERT_TRUE(make_directories(dir / "occupied/inner", 0700).ok());  // rename onto a non-empty dir
  Status written = write_file_atomically(dir / "occupied", "x", 0600);
  ASSERT_FALSE(written.ok());
  EXPECT_NE(written.error().message.find("rename "), std::string::npos);
  EXPECT_NE(::access((dir / "occupied.tmp." + std::to_string(::getpid())).c_str(), F_OK), 0);
}

TEST(AppendLog, AppendsWholeLines) {
  TestTempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string path = dir / "events.log";
  {
    auto log = AppendLog::open(path, 0640);
    ASSERT_TRUE(log.ok()) << log.error().describe();
    ASSERT_TRUE(log->append_line("one").ok());
    ASSERT_TRUE(log->append_line("two words").ok());
  }
  auto reopened = AppendLog::open(path, 0640);
  ASSERT_TRUE(reopened.ok());
  ASSERT_TRUE(reopened->append_line("").ok());
  ASSERT_TRUE(reopened->append_line("three").ok());
  EXPECT_EQ(*read_file(path), "one\ntwo words\n\nthree\n");
  EXPECT_TRUE(::fcntl(reopened->fd(), F_GETFD) & FD_CLOEXEC);
  auto bad = AppendLog::open("/nonexistent/x.log", 0640);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().message, "open log /nonexistent/x.log");
}

}  // namespace
}  // namespace memvisor
