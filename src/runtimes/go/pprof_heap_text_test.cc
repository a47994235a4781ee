#include "runtimes/go/pprof_heap_text.h"

#include <gtest/gtest.h>

#include "core/test_fixtures.h"
#include "os/files.h"

namespace memvisor {
namespace {

std::string go_fixture() {
  auto text = read_file(fixture_path("runtimes/go/heap_debug1.txt"));
  EXPECT_TRUE(text);
  return text ? *text : "";
}

TEST(PprofHeapText, ReadsTheRecordsFramesAndRateOfARealProfile) {
  auto heap = parse_pprof_heap_text(go_fixture());
  ASSERT_TRUE(heap) << heap.error().describe();
  EXPECT_EQ(heap->sampling_rate, 524288u);  // printed as heap/1048576
  ASSERT_GE(heap->records.size(), 3u);
  const PprofHeapRecord& first = heap->records[0];
  EXPECT_EQ(first.inuse_objects, 1);
  EXPECT_EQ(first.inuse_bytes, 5376);
  ASSERT_FALSE(first.frames.empty());
  EXPECT_EQ(first.frames[0].function, "math/rand.NewSource");
  EXPECT_EQ(first.frames[0].module, "math/rand");
  EXPECT_EQ(first.frames[0].file, "/usr/lib/go-1.19/src/math/rand/rand.go");
  EXPECT_EQ(first.frames[0].line, 44);
  const PprofHeapRecord& leak = heap->records[1];
  EXPECT_EQ(leak.frames[0].function, "main.rememberInvoice");
  EXPECT_EQ(leak.frames[0].module, "main");
  EXPECT_EQ(leak.frames[0].line, 24);
}

TEST(PprofHeapText, RefusesWhatIsNotAHeapProfile) {
  EXPECT_FALSE(parse_pprof_heap_text(""));
  EXPECT_FALSE(parse_pprof_heap_text("<html>404 page not found</html>\n"));
  EXPECT_FALSE(parse_pprof_heap_text("heap profile: 1: 2 [3: 4] @ heap/8\nx: y\n"));
  EXPECT_TRUE(parse_pprof_heap_text("heap profile: 0: 0 [0: 0] @ heap/1048576\n"));
}

TEST(PprofHeapText, TheDifferenceChargesTheCallerOfTheStandardLibrary) {
  const std::string before =
      "heap profile: 1: 1024 [1: 1024] @ heap/1048576\n"
      "1: 1024 [1: 1024] @ 0x1 0x2\n"
      "#\t0x1\tmain.keep+0x1\t/app/keep.go:3\n"
      "#\t0x2\truntime.main+0x2\t/usr/lib/go/src/runtime/proc.go:250\n";
  const std::string after =
      "heap profile: 9: 9216 [30: 90000] @ heap/1048576\n"
      "1: 1024 [1: 1024] @ 0x1 0x2\n"
      "#\t0x1\tmain.keep+0x1\t/app/keep.go:3\n"
      "#\t0x2\truntime.main+0x2\t/usr/lib/go/src/runtime/proc.go:250\n"
      "\n"
      "8: 8192 [8: 8192] @ 0x3 0x4 0x2\n"
      "#\t0x3\tstrings.Repeat+0x13b\t/usr/lib/go/src/strings/strings.go:545\n"
      "#\t0x4\tmyapp/store.(*Book).archive+0x44\t/app/store/book.go:35\n"
      "#\t0x2\truntime.main+0x2\t/usr/lib/go/src/runtime/proc.go:250\n"
      "\n"
      "0: 0 [21: 80784] @ 0x5 0x2\n"
      "#\t0x5\tmain.churn+0x4\t/app/main.go:9\n"
      "#\t0x2\truntime.main+0x2\t/usr/lib/go/src/runtime/proc.go:250\n";
  auto a = parse_pprof_heap_text(before);
  auto b = parse_pprof_heap_text(after);
  ASSERT_TRUE(a && b);
  RuntimeProfile p = pprof_heap_diff(*a, *b);
  ASSERT_EQ(p.entries.size(), 2u);  // keep.go did not change
  const ProfileEntry& archive = p.entries[0];
  EXPECT_EQ(archive.frames[archive.site].function, "myapp/store.(*Book).archive");
  EXPECT_EQ(archive.frames[archive.site].module, "myapp/store");
  // 8 samples of 1 KiB at a 512 KiB rate stand for about 512 KiB each.
  EXPECT_NEAR(archive.retained_bytes, 8192 / (1 - std::exp(-1024.0 / 524288)), 1);
  const ProfileEntry& churn = p.entries[1];
  EXPECT_EQ(churn.retained_bytes, 0);
  EXPECT_GT(churn.allocated_bytes, archive.allocated_bytes);
}

TEST(PprofHeapText, TheMedianOfThreeIgnoresOneProfileFullOfFreshGarbage) {
  auto profile = [](int churn_live, int leak_live) {
    std::string text = "heap profile: 0: 0 [0: 0] @ heap/1048576\n";
    text += std::to_string(churn_live) + ": " + std::to_string(churn_live * 16384) +
            " [900: 14745600] @ 0x1\n#\t0x1\tmain.churn+0x1\t/app/main.go:9\n\n";
    if (leak_live > 0) {
      text += std::to_string(leak_live) + ": " + std::to_string(leak_live * 8192) + " [" +
              std::to_string(leak_live) + ": " + std::to_string(leak_live * 8192) +
              "] @ 0x2\n#\t0x2\tmain.leak+0x1\t/app/main.go:20\n";
    }
    auto heap = parse_pprof_heap_text(text);
    EXPECT_TRUE(heap);
    return *heap;
  };
  const PprofHeap median = pprof_heap_median({profile(1, 5), profile(40, 6), profile(2, 0)});
  ASSERT_EQ(median.records.size(), 2u);
  for (const PprofHeapRecord& r : median.records) {
    if (r.frames.at(0).function == "main.churn") {
      EXPECT_EQ(r.inuse_objects, 2);
    } else {
      EXPECT_EQ(r.inuse_objects, 5);  // main.leak: its absence counts as 0
    }
  }
}

}  // namespace
}  // namespace memvisor
