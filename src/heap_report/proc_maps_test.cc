#include "heap_report/proc_maps.h"

#include <gtest/gtest.h>

namespace memvisor {
namespace {

constexpr const char* kMaps =
    "55d0c0a00000-55d0c0a01000 r--p 00000000 08:01 123 /usr/bin/prog\n"
    "55d0c0a01000-55d0c0a02000 r-xp 00001000 08:01 123 /usr/bin/prog\n"
    "55d0c1000000-55d0c1021000 rw-p 00000000 00:00 0                          [heap]\n"
    "7f0000000000-7f0000001000 rw-p 00000000 00:00 0 \n"
    "7f1000000000-7f1000028000 r--p 00000000 08:01 77 /usr/lib/libc.so.6\n"
    "7f1000028000-7f100019d000 r-xp 00028000 08:01 77 /usr/lib/libc.so.6\n"
    "garbage line\n";

TEST(ProcMaps, ParsesEveryWellFormedLine) {
  const auto maps = parse_proc_maps(kMaps);
  ASSERT_EQ(maps.size(), 6u);
  EXPECT_EQ(maps[1].start, 0x55d0c0a01000u);
  EXPECT_EQ(maps[1].offset, 0x1000u);
  EXPECT_TRUE(maps[1].executable);
  EXPECT_FALSE(maps[0].executable);
  EXPECT_EQ(maps[2].path, "[heap]");
  EXPECT_EQ(maps[3].path, "");
  EXPECT_EQ(maps[5].path, "/usr/lib/libc.so.6");
}

TEST(ProcMaps, FindsTheMappingOfAnAddress) {
  const auto maps = parse_proc_maps(kMaps);
  ASSERT_NE(find_mapping(maps, 0x7f1000030000), nullptr);
  EXPECT_EQ(find_mapping(maps, 0x7f1000030000)->path, "/usr/lib/libc.so.6");
  EXPECT_EQ(find_mapping(maps, 0x10), nullptr);
  EXPECT_EQ(find_mapping(maps, 0x7f0000001000), nullptr);  // end is exclusive
}

TEST(ProcMaps, LoadedObjectsAreFilesAtOffsetZero) {
  const auto objects = loaded_objects(parse_proc_maps(kMaps));
  ASSERT_EQ(objects.size(), 2u);
  EXPECT_EQ(objects[0].path, "/usr/bin/prog");
  EXPECT_EQ(objects[0].base, 0x55d0c0a00000u);
  EXPECT_EQ(objects[1].base, 0x7f1000000000u);
}

}  // namespace
}  // namespace memvisor
