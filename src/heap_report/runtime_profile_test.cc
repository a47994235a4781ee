#include "heap_report/runtime_profile.h"

#include <gtest/gtest.h>

namespace memvisor {
namespace {

ProfileEntry entry(std::vector<SourceFrame> frames, size_t site, double retained, double allocated,
                   std::string type = "") {
  ProfileEntry e;
  e.frames = std::move(frames);
  e.site = site;
  e.retained_bytes = retained;
  e.allocated_bytes = allocated;
  e.samples = 1;
  e.type = std::move(type);
  return e;
}

TEST(RuntimeProfile, ChargesTheSiteAndRanksByRetained) {
  RuntimeProfile p;
  p.runtime = "node";
  p.method = "test";
  const SourceFrame internal{"node:internal", "push", "node:internal/x.js", 3};
  const SourceFrame leak{"app", "rememberInvoice", "/srv/app.js", 12};
  const SourceFrame churn{"app", "render", "/srv/render.js", 40};
  p.entries.push_back(entry({internal, leak}, 1, 900, 1000, "Invoice"));
  p.entries.push_back(entry({churn}, 0, 10, 50000, "String"));
  const HeapReport r = build_runtime_report(p);
  EXPECT_EQ(r.runtime, "node");
  ASSERT_EQ(r.by_function.size(), 2u);
  EXPECT_EQ(r.by_function[0].key, "rememberInvoice");
  EXPECT_EQ(r.by_location[0].key, "/srv/app.js:12");
  EXPECT_EQ(r.by_module[0].key, "app");
  EXPECT_EQ(r.by_type[0].key, "Invoice");
  EXPECT_EQ(r.total_retained.bytes, 910);
  ASSERT_FALSE(r.top_stacks.empty());
  EXPECT_EQ(r.top_stacks[0].frames.at(1), "rememberInvoice (/srv/app.js:12) [app]");
}

TEST(RuntimeProfile, SeparateTypeTotalsReplaceTheEntriesTypes) {
  RuntimeProfile p;
  p.entries.push_back(entry({{"m", "f", "f.java", 1}}, 0, 5, 5, "byte[]"));
  p.types.push_back(entry({}, 0, 700, 0, "com.example.Invoice"));
  const HeapReport r = build_runtime_report(p);
  ASSERT_EQ(r.by_type.size(), 1u);
  EXPECT_EQ(r.by_type[0].key, "com.example.Invoice");
}

TEST(RuntimeProfile, JsonRoundTripAndBadInput) {
  RuntimeProfile p;
  p.runtime = "python";
  p.method = "tracemalloc";
  p.allocated_known = false;
  p.entries.push_back(entry({{"app", "remember", "/a.py", 7}}, 0, 100, 0));
  auto back = runtime_profile_from_json(runtime_profile_json(p));
  ASSERT_TRUE(back) << back.error().describe();
  EXPECT_FALSE(back->allocated_known);
  ASSERT_EQ(back->entries.size(), 1u);
  EXPECT_EQ(back->entries[0].frames[0].line, 7);

  using nlohmann::json;
  for (const json& bad :
       {json(3), json::object(), json{{"runtime", 1}, {"method", "m"}},
        json{{"runtime", "r"}, {"method", "m"}, {"entries", "x"}},
        json{{"runtime", "r"}, {"method", "m"}, {"entries", {{{"frames", 2}}}}},
        json{{"runtime", "r"}, {"method", "m"}, {"entries", {{{"retained_bytes", -1}}}}},
        json{{"runtime", "r"}, {"method", "m"}, {"complete", "yes"}}}) {
    EXPECT_FALSE(runtime_profile_from_json(bad)) << bad.dump();
  }
  // A site past the frames is clamped, never an out-of-range read.
  auto clamped = runtime_profile_from_json(
      json{{"runtime", "r"},
           {"method", "m"},
           {"entries", {{{"site", 9}, {"frames", {{{"function", "f"}}}}}}}});
  ASSERT_TRUE(clamped);
  EXPECT_EQ(clamped->entries[0].site, 0u);
}

}  // namespace
}  // namespace memvisor
