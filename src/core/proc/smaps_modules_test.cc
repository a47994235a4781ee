// Grouping /proc/PID/smaps by module, on a file captured from a real python3 process (a thread
// waiting, an 8 MiB bytearray) whose sums were checked independently with awk.
#include "core/proc/smaps_modules.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/test_fixtures.h"

namespace memvisor {
namespace {

const ModuleMemory* find(const std::vector<ModuleMemory>& modules, const std::string& name) {
  for (const auto& m : modules) {
    if (m.name == name) return &m;
  }
  return nullptr;
}

TEST(SmapsModules, RealPythonProcessGroupsByModule) {
  auto modules = parse_smaps_by_module(memory_fixture("smaps/python3_thread_8MiB.smaps"));
  ASSERT_TRUE(modules.has_value());
  // The 8 MiB bytearray and the thread's stack are anonymous mappings: the largest group.
  ASSERT_FALSE(modules->empty());
  const ModuleMemory& first = modules->front();
  EXPECT_EQ(first.name, "[anonymous]");
  EXPECT_EQ(first.kind, ModuleKind::anonymous);
  EXPECT_EQ(first.mappings, 12u);
  EXPECT_EQ(first.rss, kib(9972));
  EXPECT_EQ(first.private_bytes, kib(9972));

  const ModuleMemory* libc = find(*modules, "/usr/lib/x86_64-linux-gnu/libc.so.6");
  ASSERT_NE(libc, nullptr);
  EXPECT_EQ(libc->kind, ModuleKind::file);
  EXPECT_EQ(libc->mappings, 5u);
  EXPECT_EQ(libc->rss, kib(1368));
  EXPECT_EQ(libc->pss, kib(71));  // shared with every process on the machine
  EXPECT_EQ(libc->private_bytes, kib(24));

  const ModuleMemory* heap = find(*modules, "[heap]");
  ASSERT_NE(heap, nullptr);
  EXPECT_EQ(heap->kind, ModuleKind::heap);
  EXPECT_EQ(heap->rss, kib(808));
  ASSERT_NE(find(*modules, "[stack]"), nullptr);
  EXPECT_EQ(find(*modules, "[stack]")->kind, ModuleKind::stack);
  ASSERT_NE(find(*modules, "[vdso]"), nullptr);
  EXPECT_EQ(find(*modules, "[vdso]")->kind, ModuleKind::kernel);

  uint64_t rss = 0, pss = 0, priv = 0;
  for (const auto& m : *modules) {
    rss += m.rss;
    pss += m.pss;
    priv += m.private_bytes;
  }
  EXPECT_EQ(rss, kib(17836));
  EXPECT_EQ(pss, kib(15818));
  EXPECT_EQ(priv, kib(15704));
  for (size_t i = 1; i < modules->size(); ++i) {
    EXPECT_GE((*modules)[i - 1].rss, (*modules)[i].rss);
  }
}

TEST(SmapsModules, PathsWithSpacesNamedAnonAndOldStackNames) {
  const std::string text =
      "00400000-00401000 r--p 00000000 fe:00 42     /tmp/my file (deleted)\n"
      "Rss:                   4 kB\n"
      "Pss:                   4 kB\n"
      "7f0000000000-7f0000001000 rw-p 00000000 00:00 0      [anon:arena]\n"
      "Rss:                   8 kB\n"
      "7f0000002000-7f0000003000 rw-p 00000000 00:00 0      [stack:1234]\n"
      "Rss:                  12 kB\n"
      "Swap:                  4 kB\n"
      "VmFlags: rd wr mr mw me gd ac\n";
  auto modules = parse_smaps_by_module(text);
  ASSERT_TRUE(modules.has_value());
  ASSERT_EQ(modules->size(), 3u);
  EXPECT_EQ((*modules)[0].name, "[stack]");
  EXPECT_EQ((*modules)[0].swap, kib(4));
  EXPECT_EQ((*modules)[1].name, "[anon:arena]");
  EXPECT_EQ((*modules)[1].kind, ModuleKind::anonymous);
  EXPECT_EQ((*modules)[2].name, "/tmp/my file (deleted)");
}

TEST(SmapsModules, MalformedTextIsRefused) {
  EXPECT_FALSE(parse_smaps_by_module(""));
  EXPECT_FALSE(parse_smaps_by_module("Rss: 4 kB\n"));  // a key before any mapping
  EXPECT_FALSE(parse_smaps_by_module("zz-yy r--p 0 0 0 /x\n"));
  EXPECT_FALSE(parse_smaps_by_module("00400000-00401000 r--p 0 fe:00 1 /x\nRss: lots\n"));
  EXPECT_FALSE(parse_smaps_by_module("00400000-00401000 r--p\n"));  // truncated header
}

TEST(SmapsModules, TopTableSumsTheRest) {
  auto modules = parse_smaps_by_module(memory_fixture("smaps/python3_thread_8MiB.smaps"));
  ASSERT_TRUE(modules.has_value());
  const std::string table = format_smaps_top(*modules, 3);
  EXPECT_NE(table.find("MODULE"), std::string::npos);
  EXPECT_NE(table.find("[anonymous]"), std::string::npos);
  EXPECT_NE(table.find("/usr/bin/python3.11"), std::string::npos);
  EXPECT_NE(table.find("(" + std::to_string(modules->size() - 3) + " more)"), std::string::npos);
  EXPECT_NE(table.find("(total)"), std::string::npos);
  EXPECT_NE(table.find("17.4 MiB"), std::string::npos) << table;  // 17836 KiB
}

}  // namespace
}  // namespace memvisor
