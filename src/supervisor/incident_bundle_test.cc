// Writing incident bundles into a temp dir: every file, no temp dir left, a second bundle of the
// same id beside the first, the heap sample slot, listing, showing and retention; and /proc
// captured from this very process.
#include "supervisor/incident_bundle.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "os/files.h"
#include "os/test_temp_dir.h"
#include "supervisor/incident_store.h"

namespace memvisor {
namespace {

namespace fs = std::filesystem;

BundleContent content_at(double unix_seconds) {
  BundleContent content;
  IncidentFacts& facts = content.facts;
  facts.time = from_unix_seconds(unix_seconds);
  facts.trigger = "dump";
  facts.service = "web";
  facts.instance = 1;
  facts.pid = ::getpid();
  facts.id = incident_id(facts.time, facts.service, facts.instance, facts.trigger);
  content.samples = {{0.1, {.rss = 1 << 20, .pss = 1 << 20}},
                     {1.1, {.rss = 2 << 20, .pss = 2 << 20}}};
  content.proc = capture_proc(::getpid());
  content.stacks = "# no stack tool is installed\n";
  return content;
}

TEST(IncidentBundle, CapturesThisProcess) {
  const ProcCapture proc = capture_proc(::getpid());
  EXPECT_NE(proc.status.find("VmRSS:"), std::string::npos);
  EXPECT_NE(proc.cmdline.find("app_tests"), std::string::npos) << proc.cmdline;
  // The test binary and libc are mapped in every build ([heap] is not under AddressSanitizer,
  // whose allocator maps its own memory).
  EXPECT_NE(proc.smaps_top.find("app_tests "), std::string::npos) << proc.smaps_top;
  EXPECT_NE(proc.smaps_top.find("libc.so"), std::string::npos) << proc.smaps_top;
  EXPECT_NE(capture_proc(999999999).status.find("unreadable"), std::string::npos);
}

TEST(IncidentBundle, WritesEveryFileAtomicallyAndListsIt) {
  TestTempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string report = dir / "heap.json";
  ASSERT_TRUE(write_file_atomically(report, "{\"total\":1}", 0600));

  BundleContent first = content_at(1795375812);
  first.heap_sample_path = report;
  auto written = write_incident_bundle(dir / "incidents", first);
  ASSERT_TRUE(written) << written.error().describe();
  EXPECT_EQ(*written, dir / "incidents/20261122-193012-web.1-dump");
  for (const char* file : {"summary.txt", "incident.json", "memory.csv", "memory.svg",
                           "smaps_top.txt", "status.txt", "stacks.txt", "heap_sample.json"}) {
    EXPECT_TRUE(fs::exists(*written + "/" + file)) << file;
  }
  EXPECT_EQ(*read_file(*written + "/heap_sample.json"), "{\"total\":1}");
  EXPECT_NE(read_file(*written + "/summary.txt")->find("heap_sample.json"), std::string::npos);

  BundleContent second = content_at(1795375812);  // the same second: the same id
  auto again = write_incident_bundle(dir / "incidents", second);
  ASSERT_TRUE(again) << again.error().describe();
  EXPECT_EQ(second.facts.id, "20261122-193012-web.1-dump-2");
  for (const auto& entry : fs::directory_iterator(dir / "incidents")) {
    EXPECT_FALSE(entry.path().filename().string().starts_with(".tmp")) << entry.path();
  }

  const auto listed = list_incidents(dir / "incidents");
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].instance, "web.1");
  EXPECT_EQ(listed[0].trigger, "dump");
  EXPECT_GT(listed[0].bytes, 1000u);
  auto shown = show_incident(dir / "incidents", second.facts.id);
  ASSERT_TRUE(shown);
  EXPECT_EQ((*shown)["files"].size(), 7u);
  EXPECT_FALSE(show_incident(dir / "incidents", "../incidents"));
  EXPECT_FALSE(show_incident(dir / "incidents", "nosuch"));

  // A missing heap report leaves the slot empty; the bundle is still written.
  BundleContent third = content_at(1795375900);
  third.heap_sample_path = dir / "missing.json";
  auto without = write_incident_bundle(dir / "incidents", third);
  ASSERT_TRUE(without);
  EXPECT_FALSE(fs::exists(*without + "/heap_sample.json"));

  EXPECT_EQ(enforce_incident_retention(dir / "incidents", 1, 1 << 30),
            (std::vector<std::string>{first.facts.id, second.facts.id}));
  EXPECT_EQ(list_incidents(dir / "incidents").size(), 1u);
}

TEST(IncidentBundle, AbandonedTempDirsAreRemoved) {
  TestTempDir dir;
  ASSERT_TRUE(dir.ok());
  fs::create_directories(dir / "incidents/.tmp-20261122-193012-web.1-dump-999999999");
  const std::string ours = dir / ("incidents/.tmp-x-" + std::to_string(::getpid()));
  fs::create_directories(ours);
  remove_abandoned_bundles(dir / "incidents");
  EXPECT_FALSE(fs::exists(dir / "incidents/.tmp-20261122-193012-web.1-dump-999999999"));
  EXPECT_TRUE(fs::exists(ours));  // its writer is alive
}

}  // namespace
}  // namespace memvisor
