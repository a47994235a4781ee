#include "runtimes/jvm/jfr_events.h"

#include <gtest/gtest.h>

#include "runtimes/jvm/jvm_test_fixtures.h"

namespace memvisor {
namespace {

// The events of the captured `jfr print --json` output (2 s of OrderBook's "map" mode: strings
// kept in a HashMap, among churn), fed `chunk` bytes at a time.
std::vector<JfrSample> fixture_samples(size_t chunk, size_t* events = nullptr) {
  const std::string json = jvm_fixture("jfr_print_map.json");
  std::vector<JfrSample> out;
  size_t seen = 0;
  JfrEventStream stream([&](std::string_view text) {
    ++seen;
    const nlohmann::json event = nlohmann::json::parse(text, nullptr, false);
    EXPECT_FALSE(event.is_discarded());
    auto sample = jfr_sample_from_json(event);
    EXPECT_TRUE(sample.ok()) << sample.error().message;
    if (sample.ok()) out.push_back(std::move(*sample));
  });
  for (size_t at = 0; at < json.size(); at += chunk)
    EXPECT_TRUE(stream.feed(std::string_view(json).substr(at, chunk)).ok());
  EXPECT_TRUE(stream.finished());
  if (events) *events = seen;
  return out;
}

TEST(JfrEvents, TimesAreUtcNanoseconds) {
  EXPECT_EQ(parse_jfr_time("1970-01-01T00:00:00Z").value(), 0);
  EXPECT_EQ(parse_jfr_time("1970-01-01T00:00:01.5Z").value(), 1'500'000'000);
  EXPECT_EQ(parse_jfr_time("2026-12-05T06:18:02.870623520Z").value(), 1796451482870623520);
  EXPECT_EQ(parse_jfr_time("2000-03-01T00:00:00Z").value(), 951868800LL * 1'000'000'000);
  EXPECT_FALSE(parse_jfr_time("").ok());
  EXPECT_FALSE(parse_jfr_time("2026-12-05 06:18:02Z").ok());
  EXPECT_FALSE(parse_jfr_time("2026-12-05T06:18:02+01:00").ok());
  EXPECT_FALSE(parse_jfr_time("2026-13-05T06:18:02Z").ok());
  EXPECT_FALSE(parse_jfr_time("2026-12-05T06:18:02.12a4Z").ok());
}

TEST(JfrEvents, RealPrinterOutputWhateverTheChunks) {
  size_t events = 0;
  const auto whole = fixture_samples(1 << 20, &events);
  EXPECT_EQ(events, 25u);
  EXPECT_EQ(whole.size(), 25u);
  const auto bytewise = fixture_samples(1);
  ASSERT_EQ(bytewise.size(), whole.size());
  for (size_t i = 0; i < whole.size(); ++i) {
    EXPECT_EQ(bytewise[i].time_ns, whole[i].time_ns);
    EXPECT_EQ(bytewise[i].frames.size(), whole[i].frames.size());
  }
  size_t old_objects = 0;
  for (const JfrSample& s : whole) old_objects += s.old_object;
  EXPECT_EQ(old_objects, 15u);
}

TEST(JfrEvents, SitesSkipStringAndHashMapForTheUsersMethod) {
  size_t behind_hashmap = 0, behind_string = 0;
  for (const JfrSample& s : fixture_samples(4096)) {
    if (!s.old_object) continue;
    ASSERT_FALSE(s.frames.empty());
    EXPECT_EQ(s.frames[s.site].function, "com.example.OrderBook.rememberSession");
    EXPECT_EQ(s.frames[s.site].file, "com/example/OrderBook.java");
    EXPECT_EQ(s.frames[s.site].line, 29);
    EXPECT_EQ(s.frames[s.site].module, "com.example");
    EXPECT_EQ(s.thread, "main");
    if (s.frames[0].function == "java.util.HashMap.newNode") {
      ++behind_hashmap;
      EXPECT_EQ(s.type, "java.util.HashMap$Node");
    }
    if (s.frames[0].function == "jdk.internal.misc.Unsafe.allocateUninitializedArray") {
      ++behind_string;
      EXPECT_EQ(s.type, "byte[]");
      EXPECT_GT(s.array_elements, 200);
    }
  }
  EXPECT_GT(behind_hashmap, 0u);
  EXPECT_GT(behind_string, 0u);
}

TEST(JfrEvents, AllocationSamplesAreWeighted) {
  size_t allocations = 0;
  for (const JfrSample& s : fixture_samples(4096)) {
    if (s.old_object) continue;
    ++allocations;
    EXPECT_GT(s.weight, 0);
    EXPECT_EQ(s.array_elements, -1);
    if (!s.frames.empty() && s.frames[0].function == "com.example.OrderBook.churn") {
      EXPECT_EQ(s.type, "byte[]");
      EXPECT_EQ(s.site, 0u);
    }
  }
  EXPECT_EQ(allocations, 10u);
}

TEST(JfrEvents, StreamKeepsBracesInStringsAndRefusesGarbage) {
  std::vector<std::string> events;
  JfrEventStream stream([&](std::string_view e) { events.emplace_back(e); });
  const std::string doc = R"({"recording": {"events": [{"a": "}{[\"]"}, {"b": [1, {"c": 2}]}]}})";
  ASSERT_TRUE(stream.feed(doc).ok());
  EXPECT_TRUE(stream.finished());
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[0], R"({"a": "}{[\"]"})");
  EXPECT_EQ(events[1], R"({"b": [1, {"c": 2}]})");
  JfrEventStream bad([](std::string_view) {});
  EXPECT_FALSE(bad.feed("}}").ok());
  JfrEventStream huge([](std::string_view) {}, 16);
  EXPECT_FALSE(huge.feed(R"({"recording": {"events": [{"a": "01234567890123456789"}]}})").ok());
}

TEST(JfrEvents, MalformedEventsAreErrorsNotCrashes) {
  for (const char* text : {R"({})", R"({"type": 1})", R"({"type": "jdk.OldObjectSample"})",
                           R"({"type": "jdk.OldObjectSample", "values": {"allocationTime": 5}})",
                           R"({"type": "jdk.GCHeapSummary", "values": {}})", R"([])"}) {
    EXPECT_FALSE(jfr_sample_from_json(nlohmann::json::parse(text)).ok()) << text;
  }
  auto sparse = jfr_sample_from_json(nlohmann::json::parse(
      R"({"type": "jdk.OldObjectSample", "values": {"allocationTime": "2026-12-05T06:18:02Z",
          "object": null, "stackTrace": {"frames": [{"method": null}, 7,
          {"method": {"type": {"name": "Main"}, "name": "main"}, "lineNumber": "x"}]},
          "eventThread": null, "arrayElements": -2147483648}})"));
  ASSERT_TRUE(sparse.ok());
  EXPECT_EQ(sparse->type, "");
  EXPECT_EQ(sparse->array_elements, -1);
  ASSERT_EQ(sparse->frames.size(), 1u);
  EXPECT_EQ(sparse->frames[0].function, "Main.main");
  EXPECT_EQ(sparse->frames[0].line, 0);
}

}  // namespace
}  // namespace memvisor
