#include "runtimes/jvm/jvm_profile.h"

#include <gtest/gtest.h>

#include "runtimes/jvm/attach_protocol.h"
#include "runtimes/jvm/jvm_test_fixtures.h"

namespace memvisor {
namespace {

// The fixtures' window: recording asked for at this Unix time (ns).
constexpr int64_t kFixtureWindowStart = 1796451482298715191;

ClassHistogram fixture_histogram(const char* name) {
  auto reply = parse_attach_reply(jvm_fixture(name));
  auto parsed = parse_class_histogram(reply.ok() ? reply->output : "");
  EXPECT_TRUE(parsed.ok());
  return parsed.ok() ? *parsed : ClassHistogram{};
}

std::vector<JfrSample> fixture_window_samples() {
  std::vector<JfrSample> out;
  JfrEventStream stream([&](std::string_view text) {
    auto sample = jfr_sample_from_json(nlohmann::json::parse(text, nullptr, false));
    if (sample.ok()) out.push_back(std::move(*sample));
  });
  EXPECT_TRUE(stream.feed(jvm_fixture("jfr_print_map.json")).ok());
  return out;
}

JfrSample sample(bool old_object, int64_t time, const std::string& type, const char* function,
                 const std::string& thread = "main", int64_t thread_id = 1) {
  JfrSample s;
  s.old_object = old_object;
  s.time_ns = time;
  s.type = type;
  s.thread = thread;
  s.thread_id = thread_id;
  s.frames.push_back({"com.example", function, "com/example/App.java", 10});
  return s;
}

TEST(JvmProfile, RealWindowChargesTheLeakBehindHashMapAndString) {
  JvmWindow window;
  window.start_ns = kFixtureWindowStart;
  window.window_s = 2;
  window.samples = fixture_window_samples();
  window.before = fixture_histogram("reply_class_histogram_before.txt");
  window.after = fixture_histogram("reply_class_histogram_after.txt");
  window.allocation_throttle = "20/s";
  const RuntimeProfile profile = jvm_profile(window);
  EXPECT_EQ(profile.runtime, "jvm");
  EXPECT_TRUE(profile.allocated_known);
  const HeapReport report = build_runtime_report(profile);
  ASSERT_FALSE(report.by_function.empty());
  EXPECT_EQ(report.by_function[0].key, "com.example.OrderBook.rememberSession");
  EXPECT_EQ(report.by_location[0].key, "com/example/OrderBook.java:29");
  EXPECT_GT(report.by_function[0].retained.bytes, 100000);
  for (const ReportRow& row : report.by_function)
    EXPECT_EQ(row.key.rfind("java.", 0), std::string::npos) << row.key;
  // The churn allocated most and retained nothing.
  bool churn = false;
  for (const ReportRow& row : report.by_function) {
    if (row.key != "com.example.OrderBook.churn") continue;
    churn = true;
    EXPECT_EQ(row.retained.bytes, 0);
    EXPECT_GT(row.allocated.bytes, report.by_function[0].allocated.bytes);
  }
  EXPECT_TRUE(churn);
  ASSERT_FALSE(report.by_type.empty());
  EXPECT_EQ(report.by_type[0].key, "byte[]");
}

TEST(JvmProfile, SurvivorsShareTheirClassGrowth) {
  JvmWindow window;
  window.start_ns = 1000;
  window.before = ClassHistogram{{"com.example.Order", {10, 240}}, {"byte[]", {5, 5000}}};
  window.after = ClassHistogram{{"com.example.Order", {110, 2640}}, {"byte[]", {5, 5000}}};
  window.samples = {sample(true, 2000, "com.example.Order", "leak"),
                    sample(true, 2000, "com.example.Order", "leak"),
                    sample(true, 2000, "com.example.Order", "other"),
                    sample(true, 2000, "byte[]", "steady")};
  window.samples.back().array_elements = 1000;
  const RuntimeProfile profile = jvm_profile(window);
  ASSERT_EQ(profile.entries.size(), 4u);
  EXPECT_DOUBLE_EQ(profile.entries[0].retained_bytes, 800);  // 2400 grown / 3 survivors
  EXPECT_NEAR(profile.entries[0].retained_count, 33.33, 0.01);
  // byte[] did not grow: its survivor counts its own size.
  EXPECT_DOUBLE_EQ(profile.entries[3].retained_bytes, 1016);
  EXPECT_DOUBLE_EQ(profile.entries[3].retained_count, 1);
  ASSERT_EQ(profile.types.size(), 1u);
  EXPECT_EQ(profile.types[0].type, "com.example.Order");
  EXPECT_DOUBLE_EQ(profile.types[0].retained_bytes, 2400);
  const HeapReport report = build_runtime_report(profile);
  EXPECT_EQ(report.by_function[0].key, "leak");
  EXPECT_DOUBLE_EQ(report.by_function[0].retained.bytes, 1600);
}

bool says_allocated_is_unreliable(const RuntimeProfile& profile) {
  for (const std::string& caveat : profile.caveats)
    if (caveat.starts_with("allocated is not reliable in this window")) return true;
  return false;
}

// JDK 17's throttled allocation sampler can give a short window a burst, or almost nothing: a
// window with few allocation samples, or fewer bytes allocated than retained, says so.
TEST(JvmProfile, AnUnevenAllocationSampleIsSaidToBeUnreliable) {
  JvmWindow window;
  window.start_ns = 1000;
  window.before = ClassHistogram{{"com.example.Order", {10, 240}}};
  window.after = ClassHistogram{{"com.example.Order", {10010, 240240}}};
  window.samples = {sample(true, 2000, "com.example.Order", "leak")};
  for (int i = 0; i < 30; ++i) {
    window.samples.push_back(sample(false, 1100 + i, "com.example.Order", "leak"));
    window.samples.back().weight = 100000;
  }
  EXPECT_FALSE(says_allocated_is_unreliable(jvm_profile(window)));
  window.samples.resize(6);  // five allocation samples (the thread's first one anchors the rest)
  const RuntimeProfile few = jvm_profile(window);
  EXPECT_TRUE(says_allocated_is_unreliable(few));
  for (auto& s : window.samples) s.weight = 10;  // and less than the class grew
  window.samples.resize(31, window.samples.back());
  EXPECT_TRUE(says_allocated_is_unreliable(jvm_profile(window)));
}

TEST(JvmProfile, WithoutHistogramsSurvivorsCountTheirOwnSize) {
  JvmWindow window;
  window.start_ns = 1000;
  window.samples = {sample(true, 2000, "byte[]", "leak"), sample(true, 2000, "Foo", "foo")};
  window.samples[0].array_elements = 1024;
  const RuntimeProfile profile = jvm_profile(window);
  ASSERT_EQ(profile.entries.size(), 2u);
  EXPECT_DOUBLE_EQ(profile.entries[0].retained_bytes, 1040);
  EXPECT_DOUBLE_EQ(profile.entries[1].retained_bytes, 0);  // an instance of unknown size
  EXPECT_TRUE(profile.types.empty());
  window.samples[1].object_bytes = 24;  // newer JDKs (25) record it
  EXPECT_DOUBLE_EQ(jvm_profile(window).entries[1].retained_bytes, 24);
}

TEST(JvmProfile, EarlierOwnAndUnanchoredSamplesAreLeftOut) {
  JvmWindow window;
  window.start_ns = 1000;
  window.samples = {
      sample(true, 500, "Foo", "before"),                         // before the window
      sample(true, 2000, "Foo", "jfr", "JFR Periodic Tasks", 9),  // JFR's own
      sample(true, 2000, "Foo", "attach", "Attach Listener", 8),  // memvisor's request
      sample(false, 1500, "Foo", "first", "worker", 2),  // thread 2's first: weight unanchored
      sample(false, 1600, "Foo", "second", "worker", 2),
      sample(false, 900, "Foo", "pre", "main", 1),        // thread 1 sampled before the window...
      sample(false, 1200, "Foo", "anchored", "main", 1),  // ... so its first one counts
  };
  for (JfrSample& s : window.samples) s.weight = 100;
  const RuntimeProfile profile = jvm_profile(window);
  std::vector<std::string> functions;
  for (const ProfileEntry& e : profile.entries) functions.push_back(e.frames[0].function);
  EXPECT_EQ(functions, (std::vector<std::string>{"anchored", "second"}));
  bool said = false;
  for (const std::string& caveat : profile.caveats)
    said = said || caveat.find("2 samples from before the window and 2 from") != std::string::npos;
  EXPECT_TRUE(said);
}

}  // namespace
}  // namespace memvisor
