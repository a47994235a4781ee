// OOM-kill records of the kernel log, as /dev/kmsg gives them.
#include "core/proc/kernel_log.h"

#include <gtest/gtest.h>

namespace memvisor {
namespace {

TEST(KernelLog, KilledProcessLinesOfCurrentAndOlderKernels) {
  auto record = parse_oom_kill_record(
      "3,1234,56960512249,-;Out of memory: Killed process 4321 (python3) total-vm:812345kB, "
      "anon-rss:700000kB, file-rss:1234kB, shmem-rss:0kB, UID:0 pgtables:1600kB oom_score_adj:0");
  ASSERT_TRUE(record);
  EXPECT_EQ(record->pid, 4321);
  EXPECT_EQ(record->comm, "python3");
  EXPECT_EQ(record->usec, 56960512249u);
  record = parse_oom_kill_record(
      "3,99,1,-;Memory cgroup out of memory: Killed process 77 (my (odd) app) total-vm:1kB");
  ASSERT_TRUE(record);
  EXPECT_EQ(record->pid, 77);
  EXPECT_EQ(record->comm, "my (odd) app");
  record = parse_oom_kill_record("3,5,6,-;Killed process 12 (worker)");
  ASSERT_TRUE(record);
  EXPECT_EQ(record->comm, "worker");
}

TEST(KernelLog, TheSummaryLineNamesTheTaskAndPid) {
  const auto record = parse_oom_kill_record(
      "6,1235,56960512300,-;oom-kill:constraint=CONSTRAINT_MEMCG,nodemask=(null),cpuset=/,"
      "mems_allowed=0,oom_memcg=/memvisor/web.1.1,task_memcg=/memvisor/web.1.1,task=a,b,pid=999,"
      "uid=0");
  ASSERT_TRUE(record);
  EXPECT_EQ(record->pid, 999);
  EXPECT_EQ(record->comm, "a,b");
}

TEST(KernelLog, OtherAndMalformedRecordsAreNotKills) {
  EXPECT_FALSE(parse_oom_kill_record(""));
  EXPECT_FALSE(parse_oom_kill_record("6,1,2,-;EXT4-fs (loop0): mounted filesystem"));
  EXPECT_FALSE(parse_oom_kill_record("3,1,2,-;Out of memory: Killed process abc (x)"));
  EXPECT_FALSE(parse_oom_kill_record("3,1,2,-;Out of memory: Killed process -5 (x)"));
  EXPECT_FALSE(parse_oom_kill_record("3,1,2,-;Killed process 99999999999999999999 (x)"));
  EXPECT_FALSE(parse_oom_kill_record("6,1,2,-;oom-kill:constraint=CONSTRAINT_NONE,task=x"));
  // Only the message counts, not the key=value continuation lines after it.
  EXPECT_FALSE(parse_oom_kill_record("6,1,2,-;hello\n SUBSYSTEM=Killed process 5 (x)"));
  // A pid without its command name is still a victim.
  const auto bare = parse_oom_kill_record("3,1,2,-;Killed process 5");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->pid, 5);
  EXPECT_EQ(bare->comm, "");
  EXPECT_EQ(bare->usec, 2u);
  // Without the prefix it is not a /dev/kmsg record; a process's own write to /dev/kmsg is filed
  // under LOG_USER (facility 1: priority 8-15) and never names a victim.
  EXPECT_FALSE(parse_oom_kill_record("Killed process 5"));
  EXPECT_FALSE(parse_oom_kill_record("11,1,2,-;Out of memory: Killed process 5 (fake)"));
  EXPECT_FALSE(parse_oom_kill_record("x,1,2,-;Killed process 5 (x)"));
}

}  // namespace
}  // namespace memvisor
