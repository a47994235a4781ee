// The cgroup, PSI and /proc/PID/cgroup parsers: v1 files and PSI captured from a real kernel, v2
// files written from the kernel documentation (see tests/fixtures/memory/README.md).
#include "core/proc/memory_parse_cgroup.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/test_fixtures.h"

namespace memvisor {
namespace {

const std::string kV1 = "sysfs_cgroup_hybrid/memory/";
const std::string kV2 = "sysfs_cgroup_v2/workers/web/";

TEST(CgroupParseV1, NumbersAndLimits) {
  EXPECT_EQ(parse_cgroup_number(memory_fixture(kV1 + "memory.usage_in_bytes")), 2601111552u);
  EXPECT_EQ(parse_cgroup_number(memory_fixture(kV1 + "limited/memory.usage_in_bytes")), 60108800u);
  EXPECT_EQ(parse_cgroup_number(memory_fixture(kV1 + "oom_killed/memory.failcnt")), 85u);
  EXPECT_EQ(parse_cgroup_limit(memory_fixture(kV1 + "limited/memory.limit_in_bytes")), 268435456u);
  EXPECT_EQ(parse_cgroup_limit(memory_fixture(kV1 + "memory.limit_in_bytes")), kNoMemoryLimit);
}

TEST(CgroupParseV1, MemoryStatOfALimitedGroup) {
  auto stat = parse_cgroup_v1_memory_stat(memory_fixture(kV1 + "limited/memory.stat"));
  ASSERT_TRUE(stat.has_value());
  EXPECT_EQ(stat->cache, 241664u);
  EXPECT_EQ(stat->rss, 59465728u);  // the 50 MiB bytearray and the interpreter
  EXPECT_EQ(stat->rss_huge, 0u);
  EXPECT_EQ(stat->shmem, 0u);
  EXPECT_EQ(stat->mapped_file, 32768u);
  EXPECT_EQ(stat->swap, 0u);
  EXPECT_EQ(stat->total_rss, 59465728u);
  EXPECT_EQ(stat->total_cache, 241664u);
  EXPECT_EQ(stat->hierarchical_memory_limit, 268435456u);
  EXPECT_EQ(stat->values.at("pgfault"), stat->values.at("total_pgfault"));
  EXPECT_EQ(stat->values.size(), 42u);
}

TEST(CgroupParseV1, MemoryStatOfTheRootCountsTheSubtreeInTotals) {
  auto stat = parse_cgroup_v1_memory_stat(memory_fixture(kV1 + "memory.stat"));
  ASSERT_TRUE(stat.has_value());
  EXPECT_EQ(stat->cache, 9732096u);
  EXPECT_EQ(stat->rss, 5132288u);
  EXPECT_EQ(stat->shmem, 9097216u);
  EXPECT_EQ(stat->mapped_file, 7593984u);
  EXPECT_EQ(stat->total_cache, 1695666176u);
  EXPECT_EQ(stat->total_rss, 905351168u);
  EXPECT_EQ(stat->total_shmem, 9097216u);
  EXPECT_EQ(stat->total_mapped_file, 52932608u);
  EXPECT_EQ(stat->total_swap, 0u);
  EXPECT_EQ(stat->hierarchical_memory_limit, 9223372036854771712u);
}

TEST(CgroupParseV1, OomControlAfterAnOomKill) {
  auto killed = parse_cgroup_v1_oom_control(memory_fixture(kV1 + "oom_killed/memory.oom_control"));
  ASSERT_TRUE(killed.has_value());
  EXPECT_FALSE(killed->oom_kill_disable);
  EXPECT_FALSE(killed->under_oom);
  EXPECT_EQ(killed->oom_kill, 1u);
  auto alive = parse_cgroup_v1_oom_control(memory_fixture(kV1 + "limited/memory.oom_control"));
  ASSERT_TRUE(alive.has_value());
  EXPECT_EQ(alive->oom_kill, 0u);
  auto old = parse_cgroup_v1_oom_control("oom_kill_disable 1\nunder_oom 1\n");  // Linux < 4.13
  ASSERT_TRUE(old.has_value());
  EXPECT_TRUE(old->oom_kill_disable);
  EXPECT_TRUE(old->under_oom);
  EXPECT_FALSE(parse_cgroup_v1_oom_control("under_oom 0\n").has_value());
}

TEST(CgroupParseV1, RejectsMissingRequiredKeys) {
  EXPECT_FALSE(parse_cgroup_v1_memory_stat("").has_value());
  EXPECT_FALSE(parse_cgroup_v1_memory_stat("cache 1\n").has_value());
  EXPECT_FALSE(parse_cgroup_v1_memory_stat("cache 1\nrss -4\n").has_value());
  auto minimal = parse_cgroup_v1_memory_stat("cache 1\nrss 2\nnot a line\n");
  ASSERT_TRUE(minimal.has_value());
  EXPECT_EQ(minimal->total_rss, 0u);
}

TEST(CgroupParseV2, CurrentMaxAndSwap) {
  EXPECT_EQ(parse_cgroup_number(memory_fixture(kV2 + "memory.current")), 70938624u);
  EXPECT_EQ(parse_cgroup_number(memory_fixture(kV2 + "memory.swap.current")), 1048576u);
  EXPECT_EQ(parse_cgroup_limit(memory_fixture(kV2 + "memory.max")), 134217728u);
  EXPECT_EQ(parse_cgroup_limit("max\n"), kNoMemoryLimit);
  EXPECT_FALSE(parse_cgroup_number("").has_value());
  EXPECT_FALSE(parse_cgroup_number("max\n").has_value());
  EXPECT_FALSE(parse_cgroup_number("12 34\n").has_value());
  EXPECT_FALSE(parse_cgroup_limit("-1\n").has_value());
  EXPECT_FALSE(parse_cgroup_limit("maximum\n").has_value());
}

TEST(CgroupParseV2, MemoryStat) {
  auto stat = parse_cgroup_v2_memory_stat(memory_fixture(kV2 + "memory.stat"));
  ASSERT_TRUE(stat.has_value());
  EXPECT_EQ(stat->anon, 58720256u);
  EXPECT_EQ(stat->file, 9437184u);
  EXPECT_EQ(stat->shmem, 1048576u);
  EXPECT_EQ(stat->kernel, 2768896u);
  EXPECT_EQ(stat->kernel_stack, 163840u);
  EXPECT_EQ(stat->pagetables, 344064u);
  EXPECT_EQ(stat->sock, 12288u);
  EXPECT_EQ(stat->slab, 2220032u);
  EXPECT_EQ(stat->file_mapped, 4194304u);
  EXPECT_EQ(stat->file_dirty, 8192u);
  EXPECT_EQ(stat->anon_thp, 0u);
  EXPECT_EQ(stat->values.at("pgmajfault"), 12u);
  EXPECT_EQ(stat->values.at("pswpout"), 256u);
  EXPECT_EQ(stat->values.size(), 58u);
  EXPECT_EQ(stat->anon + stat->file + stat->kernel + stat->sock,
            parse_cgroup_number(memory_fixture(kV2 + "memory.current")));
}

TEST(CgroupParseV2, MemoryStatOfAnOlderKernel) {
  // Linux 4.19 had no "kernel" line; the required three are enough.
  auto stat = parse_cgroup_v2_memory_stat("anon 4096\nfile 8192\nkernel_stack 0\nshmem 0\n");
  ASSERT_TRUE(stat.has_value());
  EXPECT_EQ(stat->kernel, 0u);
  EXPECT_EQ(stat->file, 8192u);
  EXPECT_FALSE(parse_cgroup_v2_memory_stat("anon 4096\nfile 8192\n").has_value());
  EXPECT_FALSE(parse_cgroup_v2_memory_stat("anon 4096\nfile x\nshmem 0\n").has_value());
}

TEST(CgroupParseV2, MemoryEvents) {
  auto events = parse_cgroup_memory_events(memory_fixture(kV2 + "memory.events"));
  ASSERT_TRUE(events.has_value());
  EXPECT_EQ(events->low, 0u);
  EXPECT_EQ(events->high, 12u);
  EXPECT_EQ(events->max, 3u);
  EXPECT_EQ(events->oom, 1u);
  EXPECT_EQ(events->oom_kill, 1u);
  EXPECT_EQ(events->oom_group_kill, 0u);
  auto old = parse_cgroup_memory_events("low 1\nhigh 2\nmax 3\noom 4\noom_kill 5\n");
  ASSERT_TRUE(old.has_value());
  EXPECT_EQ(old->oom_kill, 5u);
  EXPECT_FALSE(parse_cgroup_memory_events("low 1\nhigh 2\nmax 3\noom 4\n").has_value());
}

TEST(PsiParse, CapturedHostMemoryAndIo) {
  // The host's memory stalls, small and past (the averages decayed to 0), and the io file of the
  // same moment, which has the same format with non-zero averages.
  auto memory = parse_psi(memory_fixture("proc/pressure/memory"));
  ASSERT_TRUE(memory.has_value());
  EXPECT_DOUBLE_EQ(memory->some.avg10, 0.0);
  EXPECT_EQ(memory->some.total_us, 427u);
  ASSERT_TRUE(memory->has_full);
  EXPECT_EQ(memory->full.total_us, 307u);

  auto io = parse_psi(memory_fixture("proc/pressure/io"));
  ASSERT_TRUE(io.has_value());
  EXPECT_DOUBLE_EQ(io->some.avg10, 0.02);
  EXPECT_DOUBLE_EQ(io->some.avg60, 0.11);
  EXPECT_DOUBLE_EQ(io->some.avg300, 0.19);
  EXPECT_EQ(io->some.total_us, 6808885u);
  ASSERT_TRUE(io->has_full);
  EXPECT_DOUBLE_EQ(io->full.avg10, 0.0);
  EXPECT_DOUBLE_EQ(io->full.avg60, 0.05);
  EXPECT_DOUBLE_EQ(io->full.avg300, 0.12);
  EXPECT_EQ(io->full.total_us, 4867842u);
}

TEST(PsiParse, CgroupMemoryPressure) {
  auto captured = parse_psi(memory_fixture("sysfs_cgroup_hybrid/unified/memory.pressure"));
  ASSERT_TRUE(captured.has_value());
  EXPECT_EQ(captured->some.total_us, 427u);
  auto documented = parse_psi(memory_fixture(kV2 + "memory.pressure"));
  ASSERT_TRUE(documented.has_value());
  EXPECT_DOUBLE_EQ(documented->some.avg10, 1.52);
  EXPECT_DOUBLE_EQ(documented->full.avg300, 0.09);
  EXPECT_EQ(documented->full.total_us, 2113456u);
}

TEST(PsiParse, SomeOnlyAndMalformed) {
  auto some_only = parse_psi("some avg10=3.50 avg60=1.00 avg300=0.25 total=99\n");
  ASSERT_TRUE(some_only.has_value());
  EXPECT_FALSE(some_only->has_full);
  EXPECT_DOUBLE_EQ(some_only->some.avg10, 3.5);
  EXPECT_FALSE(parse_psi("").has_value());
  EXPECT_FALSE(parse_psi("full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n").has_value());
  EXPECT_FALSE(parse_psi("some avg10=0.00 avg60=0.00 total=0\n").has_value());
  EXPECT_FALSE(parse_psi("some avg10=x avg60=0.00 avg300=0.00 total=0\n").has_value());
  EXPECT_FALSE(parse_psi("some avg10=0.00 avg60=0.00 avg300=0.00 total=-1\n").has_value());
  EXPECT_FALSE(
      parse_psi("some avg10=0.00 avg60=0.00 avg300=0.00 total=1\nfull avg10\n").has_value());
}

TEST(CgroupParseProcCgroup, CapturedHybrid) {
  auto cgroup = parse_proc_cgroup(memory_fixture("proc/16638/cgroup"));
  ASSERT_TRUE(cgroup.has_value());
  EXPECT_EQ(cgroup->v2_path, "/");
  EXPECT_EQ(cgroup->v1_memory_path, "/process_api/6e1997783d06687e07877bb830f2a3d6");
}

TEST(CgroupParseProcCgroup, PureV2AndSharedV1Hierarchies) {
  auto v2 = parse_proc_cgroup("0::/system.slice/web.service\n");
  ASSERT_TRUE(v2.has_value());
  EXPECT_EQ(v2->v2_path, "/system.slice/web.service");
  EXPECT_FALSE(v2->v1_memory_path.has_value());

  auto v1 = parse_proc_cgroup("5:cpu,cpuacct:/a\n4:blkio,memory:/b:c\n3:memoryx:/d\n");
  ASSERT_TRUE(v1.has_value());
  EXPECT_FALSE(v1->v2_path.has_value());
  EXPECT_EQ(v1->v1_memory_path, "/b:c");

  EXPECT_TRUE(parse_proc_cgroup("").has_value());
  EXPECT_FALSE(parse_proc_cgroup("0:/x\n").has_value());
  EXPECT_FALSE(parse_proc_cgroup("x:memory:/x\n").has_value());
}

}  // namespace
}  // namespace memvisor
