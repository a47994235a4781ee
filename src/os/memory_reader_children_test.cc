// ProcMemoryReader::read_children: a pre-fork master's children from the captured proc tree (no
// task/TID/children files there: the scan by parent pid) and from the real /proc with forked
// children, which are held, identified by start time and gone once they exit.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>

#include "os/memory_reader.h"

#include "os/test_processes.h"

#include "core/test_fixtures.h"

namespace memvisor {
namespace {

std::vector<pid_t> pids_of(const std::vector<ProcMemoryReader::Child>& children) {
  std::vector<pid_t> pids;
  for (const auto& child : children) pids.push_back(child.pid);
  std::sort(pids.begin(), pids.end());
  return pids;
}

TEST(ReadChildren, CapturedTree) {
  ProcMemoryReader reader(proc_fixtures(), 4096);
  auto children = reader.read_children(16638, 151173);
  ASSERT_TRUE(children.ok()) << children.error().describe();
  ASSERT_EQ(children->size(), 1u);
  EXPECT_EQ(children->at(0).pid, 16643);
  EXPECT_EQ(children->at(0).start_ticks, 151206u);
  EXPECT_FALSE(reader.read_children(16638, 1).ok()) << "another process under that pid";
  EXPECT_EQ(pids_of(*reader.read_children(16643)), std::vector<pid_t>{16644});
  EXPECT_TRUE(reader.read_children(16644)->empty());
}

TEST(ReadChildren, RealChildrenComeAndGo) {
  const pid_t a = fork_pausing_child();
  const pid_t b = fork_pausing_child();
  ASSERT_GT(a, 0);
  ASSERT_GT(b, 0);
  ProcMemoryReader reader;
  reader.keep_files_open(true);
  auto children = reader.read_children(::getpid());
  ASSERT_TRUE(children.ok()) << children.error().describe();
  EXPECT_EQ(pids_of(*children), (std::vector<pid_t>{std::min(a, b), std::max(a, b)}));
  for (const auto& child : *children) {
    auto stat = read_proc_stat(child.pid);
    ASSERT_TRUE(stat.ok());
    EXPECT_EQ(child.start_ticks, stat->start_time_ticks);
    // Read as an instance is: by pid and start time, through the held directory.
    auto sample = reader.read_process(child.pid, child.start_ticks);
    ASSERT_TRUE(sample.ok()) << sample.error().describe();
    EXPECT_GT(sample->rss, 0u);
  }
  EXPECT_EQ(reader.open_processes(), 2u);

  ::kill(a, SIGKILL);
  ASSERT_EQ(::waitpid(a, nullptr, 0), a);
  reader.close_unused();
  auto after = reader.read_children(::getpid());
  ASSERT_TRUE(after.ok());
  EXPECT_EQ(pids_of(*after), std::vector<pid_t>{b});
  reader.close_unused();
  EXPECT_EQ(reader.open_processes(), 1u) << "the exited child's files are let go";
  ::kill(b, SIGKILL);
  ASSERT_EQ(::waitpid(b, nullptr, 0), b);
}

}  // namespace
}  // namespace memvisor
