// V8's sampling heap profile to ProfileEntry, on a profile captured from a real Node 20 process
// (an ES module in a directory with a space, a scoped package under node_modules, Node's timers
// and a V8 builtin in the stacks), and on malformed ones.
#include "runtimes/node/node_profile.h"

#include <gtest/gtest.h>

#include <fstream>

#include "core/test_fixtures.h"

namespace memvisor::nodejs {
namespace {

nlohmann::json captured_profile() {
  std::ifstream in(fixture_path("runtimes/node/sampling_profile_esm.json"));
  EXPECT_TRUE(in.good());
  // The whole answer to HeapProfiler.stopSampling, taken at an 8 KiB interval.
  nlohmann::json answer = nlohmann::json::parse(in, nullptr, false);
  return answer["result"]["profile"];
}

const ProfileEntry* entry_charged_to(const std::vector<ProfileEntry>& entries,
                                     const std::string& innermost) {
  for (const ProfileEntry& e : entries)
    if (!e.frames.empty() && e.frames[0].function == innermost) return &e;
  return nullptr;
}

TEST(NodeProfile, ScriptUrlsToFilesAndModules) {
  EXPECT_EQ(file_of_script_url("file:///tmp/fx/my%20app/app.mjs"), "/tmp/fx/my app/app.mjs");
  EXPECT_EQ(file_of_script_url("/srv/app/server.js"), "/srv/app/server.js");
  EXPECT_EQ(file_of_script_url("node:internal/timers"), "node:internal/timers");
  EXPECT_EQ(file_of_script_url("file:///a%2"), "/a%2");  // a cut escape stays as it is
  EXPECT_EQ(module_of_script_url("/srv/app/server.js"), "server.js");
  EXPECT_EQ(module_of_script_url("/srv/app/node_modules/express/lib/router/index.js"), "express");
  EXPECT_EQ(module_of_script_url("file:///srv/node_modules/@acme/cache/index.js"), "@acme/cache");
  // The innermost package owns the frame.
  EXPECT_EQ(module_of_script_url("/srv/node_modules/a/node_modules/b/x.js"), "b");
  EXPECT_EQ(module_of_script_url("node:internal/timers"), "node");
  EXPECT_EQ(module_of_script_url("node:events"), "node");
  EXPECT_EQ(module_of_script_url(""), "v8");
  EXPECT_TRUE(is_runtime_frame("node:internal/timers"));
  EXPECT_TRUE(is_runtime_frame("internal/timers.js"));
  EXPECT_TRUE(is_runtime_frame(""));
  EXPECT_FALSE(is_runtime_frame("/srv/app/node_modules/express/index.js"));
}

TEST(NodeProfile, CapturedProfileToEntries) {
  NodeProfileTotals totals;
  auto entries = entries_from_sampling_profile(captured_profile(), &totals);
  ASSERT_TRUE(entries.ok()) << entries.error().message;
  // One entry per node holding bytes.
  ASSERT_EQ(entries->size(), 6u);
  double bytes = 0;
  uint64_t samples = 0;
  for (const ProfileEntry& e : *entries) {
    bytes += e.retained_bytes;
    samples += e.samples;
    EXPECT_EQ(e.allocated_bytes, 0);
    EXPECT_TRUE(e.type.empty());
    EXPECT_LT(e.site, e.frames.size());
  }
  EXPECT_DOUBLE_EQ(bytes, 9216 + 1940848 + 1587848 + 2204280 + 1707120 + 106896);
  EXPECT_EQ(samples, 853u);  // every sample of the profile
  EXPECT_DOUBLE_EQ(totals.bytes, bytes);
  EXPECT_DOUBLE_EQ(totals.runtime_site_bytes, 9216);  // processTimers alone

  const ProfileEntry* keep = entry_charged_to(*entries, "keepSession");
  ASSERT_NE(keep, nullptr);
  EXPECT_EQ(keep->site, 0u);
  EXPECT_EQ(keep->frames[0].file, "/tmp/fx/my app/app.mjs");
  EXPECT_EQ(keep->frames[0].line, 6);  // 0-based 5 in the protocol
  EXPECT_EQ(keep->frames[0].module, "app.mjs");
  EXPECT_EQ(keep->samples, 204u);
  EXPECT_DOUBLE_EQ(keep->retained_count, 204);
  ASSERT_EQ(keep->frames.size(), 3u);  // (root) is not a frame
  EXPECT_EQ(keep->frames[1].function, "listOnTimeout");
  EXPECT_EQ(keep->frames[1].module, "node");
  EXPECT_EQ(keep->frames[2].function, "processTimers");

  // String.prototype.repeat is V8's builtin: charged to the app's function that called it.
  const ProfileEntry* repeat = entry_charged_to(*entries, "repeat");
  ASSERT_NE(repeat, nullptr);
  EXPECT_EQ(repeat->frames[0].module, "v8");
  EXPECT_EQ(repeat->frames[0].line, 0);
  EXPECT_EQ(repeat->site, 1u);
  EXPECT_EQ(repeat->frames[1].file, "/tmp/fx/my app/app.mjs");

  // A package's own function is the user's code, charged to it, under the package's name.
  const ProfileEntry* put = entry_charged_to(*entries, "put");
  ASSERT_NE(put, nullptr);
  EXPECT_EQ(put->site, 0u);
  EXPECT_EQ(put->frames[0].module, "@acme/cache");
  EXPECT_EQ(put->frames[0].file, "/tmp/fx/my app/node_modules/@acme/cache/index.js");
  EXPECT_EQ(put->frames[0].line, 3);

  // Only Node's frames: charged to Node's innermost function.
  const ProfileEntry* timers = entry_charged_to(*entries, "processTimers");
  ASSERT_NE(timers, nullptr);
  EXPECT_EQ(timers->site, 0u);
  EXPECT_EQ(timers->frames[0].file, "node:internal/timers");
  EXPECT_EQ(timers->frames[0].line, 504);
}

TEST(NodeProfile, TheReportRanksTheCapturedProfile) {
  auto entries = entries_from_sampling_profile(captured_profile());
  ASSERT_TRUE(entries.ok());
  RuntimeProfile profile;
  profile.runtime = "node";
  profile.allocated_known = false;
  profile.entries = *entries;
  const HeapReport report = build_runtime_report(profile);
  ASSERT_FALSE(report.by_function.empty());
  // The arrow that calls repeat() holds its own bytes and repeat()'s.
  EXPECT_EQ(report.by_function[0].key, "JSON.stringify.i.i");
  EXPECT_DOUBLE_EQ(report.by_function[0].retained.bytes, 2204280 + 1707120);
  EXPECT_EQ(report.by_function[1].key, "keepSession");
  EXPECT_EQ(report.by_location[1].key, "/tmp/fx/my app/app.mjs:6");
  EXPECT_EQ(report.by_module[0].key, "app.mjs");
}

TEST(NodeProfile, AnonymousFunctionsAndMissingSamples) {
  const auto profile = nlohmann::json::parse(R"json({
    "head": {"callFrame": {"functionName": "(root)", "url": "", "lineNumber": -1}, "selfSize": 0,
             "id": 1, "children": [
      {"callFrame": {"functionName": "", "url": "/srv/a.js", "lineNumber": 9}, "selfSize": 100,
       "id": 2, "children": [
        {"callFrame": {"functionName": "(V8 API)", "url": "", "lineNumber": -1}, "selfSize": 50,
         "id": 3, "children": []}]},
      {"callFrame": {"functionName": "(GC)", "url": "", "lineNumber": -1}, "selfSize": 7,
       "id": 4}]},
    "samples": [{"size": 100, "nodeId": 2, "ordinal": 1}, {"size": 50, "nodeId": 3, "ordinal": 2},
                {"size": 99, "nodeId": 77, "ordinal": 3}]})json");
  NodeProfileTotals totals;
  auto entries = entries_from_sampling_profile(profile, &totals);
  ASSERT_TRUE(entries.ok()) << entries.error().message;
  ASSERT_EQ(entries->size(), 3u);
  EXPECT_EQ((*entries)[0].frames[0].function, "(anonymous)");
  EXPECT_EQ((*entries)[0].frames[0].line, 10);
  EXPECT_EQ((*entries)[0].samples, 1u);
  EXPECT_EQ((*entries)[1].site, 1u);  // "(V8 API)" under the app's function
  EXPECT_EQ((*entries)[2].site, 0u);  // only V8: its own pseudo-frame
  EXPECT_EQ((*entries)[2].frames[0].module, "v8");
  EXPECT_EQ((*entries)[2].samples, 0u);  // a sample of an unknown node counts nowhere
  EXPECT_DOUBLE_EQ(totals.runtime_site_bytes, 7);
}

TEST(NodeProfile, MalformedProfilesAreErrors) {
  EXPECT_FALSE(entries_from_sampling_profile(nlohmann::json::array()).ok());
  EXPECT_FALSE(entries_from_sampling_profile({{"head", 1}}).ok());
  EXPECT_FALSE(entries_from_sampling_profile({{"head", {{"children", 3}}}}).ok());
  EXPECT_FALSE(
      entries_from_sampling_profile(nlohmann::json::parse(R"({"head": {"children": [{}]}})")).ok());
  EXPECT_FALSE(entries_from_sampling_profile(
                   nlohmann::json::parse(R"({"head": {"children": []}, "samples": [{"size": 1}]})"))
                   .ok());
  // Deeper than any V8 stack: refused, not walked.
  nlohmann::json deep = {{"callFrame", {{"functionName", "f"}}}, {"selfSize", 1}};
  for (int i = 0; i < 1100; ++i)
    deep = {{"callFrame", {{"functionName", "f"}}}, {"children", nlohmann::json::array({deep})}};
  const nlohmann::json root = {{"head", {{"children", nlohmann::json::array({deep})}}}};
  auto refused = entries_from_sampling_profile(root);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("deeper"), std::string::npos);
}

}  // namespace
}  // namespace memvisor::nodejs
