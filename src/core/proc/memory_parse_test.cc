// The /proc memory parsers against files captured from a real kernel (tests/fixtures/memory/proc),
// with exact expected values, and against malformed text.
#include "core/proc/memory_parse.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/test_fixtures.h"

namespace memvisor {
namespace {

TEST(MemoryParseSmaps, ForkedPythonParentHolding50MiB) {
  auto rollup = parse_smaps_rollup(memory_fixture("proc/16638/smaps_rollup"));
  ASSERT_TRUE(rollup.has_value());
  EXPECT_EQ(rollup->rss, kib(64992));
  EXPECT_EQ(rollup->pss, kib(24822));  // the heap is shared with two forked descendants
  EXPECT_EQ(rollup->pss_anon, kib(21599));
  EXPECT_EQ(rollup->pss_file, kib(3222));
  EXPECT_EQ(rollup->pss_shmem, 0u);
  EXPECT_EQ(rollup->shared_clean, kib(4592));
  EXPECT_EQ(rollup->shared_dirty, kib(57320));
  EXPECT_EQ(rollup->private_clean, kib(2296));
  EXPECT_EQ(rollup->private_dirty, kib(784));
  EXPECT_EQ(rollup->referenced, kib(64992));
  EXPECT_EQ(rollup->anonymous, kib(58104));
  EXPECT_EQ(rollup->swap, 0u);
  EXPECT_EQ(rollup->swap_pss, 0u);
  EXPECT_TRUE(rollup->has_pss_breakdown);
  EXPECT_EQ(rollup->uss(), kib(2296 + 784));
}

TEST(MemoryParseSmaps, GrandchildThatDirtiedTenMiBOfTheSharedHeap) {
  auto rollup = parse_smaps_rollup(memory_fixture("proc/16644/smaps_rollup"));
  ASSERT_TRUE(rollup.has_value());
  EXPECT_EQ(rollup->rss, kib(69520));
  EXPECT_EQ(rollup->pss, kib(31506));
  EXPECT_EQ(rollup->private_dirty, kib(10828));
  EXPECT_EQ(rollup->uss(), kib(10828));
  EXPECT_EQ(rollup->pss_anon + rollup->pss_file + rollup->pss_shmem, kib(31505));  // kB rounding
}

TEST(MemoryParseSmaps, Sleep) {
  auto rollup = parse_smaps_rollup(memory_fixture("proc/16812/smaps_rollup"));
  ASSERT_TRUE(rollup.has_value());
  EXPECT_EQ(rollup->rss, kib(1816));
  EXPECT_EQ(rollup->pss, kib(192));
  EXPECT_EQ(rollup->uss(), kib(108));
  EXPECT_EQ(rollup->shared_clean, kib(1708));
}

TEST(MemoryParseSmaps, OlderKernelWithoutPssBreakdown) {
  // Linux 4.14 to 5.8 print no Pss_Anon/Pss_File/Pss_Shmem.
  auto rollup = parse_smaps_rollup(
      "00400000-7fff0000 ---p 00000000 00:00 0    [rollup]\n"
      "Rss:  100 kB\nPss:   60 kB\nShared_Clean: 40 kB\nShared_Dirty: 0 kB\n"
      "Private_Clean: 10 kB\nPrivate_Dirty: 50 kB\nSwap: 8 kB\n");
  ASSERT_TRUE(rollup.has_value());
  EXPECT_FALSE(rollup->has_pss_breakdown);
  EXPECT_EQ(rollup->pss, kib(60));
  EXPECT_EQ(rollup->swap, kib(8));
  EXPECT_EQ(rollup->uss(), kib(60));
}

TEST(MemoryParseSmaps, RejectsMalformedText) {
  const std::string good = memory_fixture("proc/16812/smaps_rollup");
  auto replace = [&good](const std::string& from, const std::string& to) {
    std::string text = good;
    text.replace(text.find(from), from.size(), to);
    return text;
  };
  EXPECT_FALSE(parse_smaps_rollup("").has_value());
  EXPECT_FALSE(parse_smaps_rollup(replace("\nPss:", "\nPss_Gone:")).has_value());
  EXPECT_FALSE(parse_smaps_rollup(replace("192 kB", "192")).has_value());  // no unit
  EXPECT_FALSE(parse_smaps_rollup(replace("192 kB", "19x2 kB")).has_value());
  EXPECT_FALSE(parse_smaps_rollup(replace("192 kB", "-192 kB")).has_value());
  EXPECT_FALSE(parse_smaps_rollup(replace("1816 kB", "18446744073709551615 kB")).has_value());
  EXPECT_FALSE(parse_smaps_rollup(replace("SwapPss:               0 kB", "SwapPss: x kB"))
                   .has_value());  // optional but known: still must be well-formed
  EXPECT_TRUE(parse_smaps_rollup(replace("KSM:", "NewKey2030:")).has_value());
}

TEST(MemoryParseStatus, Python) {
  auto status = parse_proc_status(memory_fixture("proc/16638/status"));
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->name, "python3");
  EXPECT_EQ(status->ppid, 1);
  EXPECT_EQ(status->vm_rss, kib(64992));
  EXPECT_EQ(status->rss_anon, kib(58104));
  EXPECT_EQ(status->rss_file, kib(6888));
  EXPECT_EQ(status->rss_shmem, 0u);
  EXPECT_EQ(status->vm_swap, 0u);
  EXPECT_EQ(status->vm_hwm, kib(64992));
  EXPECT_EQ(status->vm_size, kib(67780));
  EXPECT_EQ(status->threads, 1u);
}

TEST(MemoryParseStatus, SleepAndItsParent) {
  auto status = parse_proc_status(memory_fixture("proc/16812/status"));
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->name, "sleep");
  EXPECT_EQ(status->ppid, 16810);
  EXPECT_EQ(status->vm_rss, kib(1816));
  EXPECT_EQ(status->rss_anon, kib(108));
  EXPECT_EQ(status->rss_file, kib(1708));
  EXPECT_EQ(status->vm_size, kib(2920));
}

TEST(MemoryParseStatus, KernelThreadHasNoMemoryLines) {
  EXPECT_FALSE(parse_proc_status(memory_fixture("proc/2/status")).has_value());
}

TEST(MemoryParseStatus, RejectsMalformedText) {
  EXPECT_FALSE(parse_proc_status("").has_value());
  EXPECT_FALSE(parse_proc_status("Name:\tx\nVmRSS:\t4 kB\n").has_value());  // no PPid
  EXPECT_FALSE(parse_proc_status("Name:\tx\nPPid:\tone\nVmRSS:\t4 kB\n").has_value());
  EXPECT_FALSE(parse_proc_status("Name:\tx\nPPid:\t1\nVmRSS:\t4 kB\nThreads:\t-1\n").has_value());
  auto minimal = parse_proc_status("Name:\ta b\nPPid:\t7\nVmRSS:\t4 kB\n");
  ASSERT_TRUE(minimal.has_value());
  EXPECT_EQ(minimal->name, "a b");
  EXPECT_EQ(minimal->vm_rss, 4096u);
  EXPECT_EQ(minimal->rss_anon, 0u);
}

TEST(MemoryParseStatm, PagesToBytes) {
  auto statm = parse_statm(memory_fixture("proc/16638/statm"), 4096);
  ASSERT_TRUE(statm.has_value());
  EXPECT_EQ(statm->size, 16945u * 4096);
  EXPECT_EQ(statm->resident, 16248u * 4096);  // = VmRSS
  EXPECT_EQ(statm->shared, 1722u * 4096);     // = RssFile + RssShmem
  auto big_pages = parse_statm("10 5 2 0 0 3 0\n", 65536);
  ASSERT_TRUE(big_pages.has_value());
  EXPECT_EQ(big_pages->resident, 5u * 65536);
}

TEST(MemoryParseStatm, RejectsMalformedText) {
  EXPECT_FALSE(parse_statm("", 4096).has_value());
  EXPECT_FALSE(parse_statm("10 5", 4096).has_value());
  EXPECT_FALSE(parse_statm("10 x 2 0 0 3 0", 4096).has_value());
  EXPECT_FALSE(parse_statm("10 5 2 0 0 3 0", 0).has_value());
  EXPECT_FALSE(parse_statm("10 18446744073709551615 2", 4096).has_value());
}

TEST(MemoryParseMeminfo, Host) {
  auto info = parse_meminfo(memory_fixture("proc/meminfo"));
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->mem_total, kib(24683620));
  EXPECT_EQ(info->mem_free, kib(21618392));
  EXPECT_EQ(info->mem_available, kib(23103360));
  EXPECT_EQ(info->swap_total, 0u);
  EXPECT_EQ(info->swap_free, 0u);
}

TEST(MemoryParseMeminfo, RejectsMissingOrMalformedFields) {
  EXPECT_FALSE(parse_meminfo("").has_value());
  EXPECT_FALSE(parse_meminfo("MemTotal: 10 kB\nMemFree: 5 kB\nSwapTotal: 0 kB\nSwapFree: 0 kB\n")
                   .has_value());  // no MemAvailable (Linux < 3.14)
  EXPECT_FALSE(parse_meminfo("MemTotal: 10 kB\nMemFree: 5 kB\nMemAvailable: 5 MB\n"
                             "SwapTotal: 0 kB\nSwapFree: 0 kB\n")
                   .has_value());
}

}  // namespace
}  // namespace memvisor
