// The dashboard's routes over a real incidents directory: bundle files served only by a listed id
// and a listed name (traversal, encoded slashes, hidden files, links and unlisted files are not
// found), /api/events after N and its bound, /api/incidents, and the embedded page files.
#include "supervisor/dashboard_routes.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "os/test_temp_dir.h"
#include "supervisor/dashboard_feed.h"

namespace memvisor {
namespace {

namespace fs = std::filesystem;

constexpr const char* kBundleId = "20261205-101500-web.1-critical";

void write_bundle_text(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
}

// incidents/ID with a summary, a chart and incident.json; a secret beside the incidents dir.
struct DashboardBundles {
  DashboardBundles() {
    fs::create_directories(fs::path(dir.path()) / "incidents" / kBundleId);
    write_bundle_text(bundle("summary.txt"), "web.1 above critical\n");
    write_bundle_text(bundle("memory.svg"), "<svg xmlns=\"http://www.w3.org/2000/svg\"/>\n");
    write_bundle_text(
        bundle("incident.json"),
        R"({"ts":"2026-12-05T10:15:00Z","trigger":"critical","service":"web","instance":1})");
    write_bundle_text(dir / "secret.txt", "not for the web\n");
  }
  std::string bundle(const std::string& name) const {
    return dir / ("incidents/" + std::string(kBundleId) + "/" + name);
  }
  std::string incidents() const { return dir / "incidents"; }
  TestTempDir dir;
};

unsigned route_status(const DashboardData& data, const std::string& path) {
  auto answer = dashboard_response(&data, path, "");
  return answer ? answer->status : 0;
}

TEST(DashboardRoutes, BundleFileNames) {
  EXPECT_TRUE(is_bundle_file_name("summary.txt"));
  EXPECT_TRUE(is_bundle_file_name("heap_sample.json"));
  EXPECT_FALSE(is_bundle_file_name(""));
  EXPECT_FALSE(is_bundle_file_name(".."));
  EXPECT_FALSE(is_bundle_file_name(".hidden"));
  EXPECT_FALSE(is_bundle_file_name("a/b"));
  EXPECT_FALSE(is_bundle_file_name("../secret.txt"));
  EXPECT_FALSE(is_bundle_file_name("a%2fb"));
  EXPECT_FALSE(is_bundle_file_name(std::string(101, 'a')));
}

TEST(DashboardRoutes, ServesOnlyListedFilesOfListedBundles) {
  DashboardBundles bundles;
  ASSERT_TRUE(bundles.dir.ok());
  DashboardFeed feed(bundles.incidents());
  const auto data = feed.build("");

  const auto summary =
      dashboard_response(data.get(), "/incidents/" + std::string(kBundleId) + "/summary.txt", "");
  ASSERT_TRUE(summary.has_value());
  EXPECT_EQ(summary->status, 200u);
  EXPECT_EQ(summary->body, "web.1 above critical\n");
  EXPECT_EQ(summary->content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(summary->csp, kBundleFileCsp);  // sandboxed, no script
  const auto chart =
      dashboard_response(data.get(), "/incidents/" + std::string(kBundleId) + "/memory.svg", "");
  ASSERT_TRUE(chart.has_value());
  EXPECT_EQ(chart->content_type, "image/svg+xml");

  const std::string base = "/incidents/" + std::string(kBundleId) + "/";
  EXPECT_EQ(route_status(*data, base + "../../secret.txt"), 404u);
  EXPECT_EQ(route_status(*data, "/incidents/../secret.txt"), 404u);
  EXPECT_EQ(route_status(*data, "/incidents/" + std::string(kBundleId) + "/..%2f..%2fsecret.txt"),
            404u);
  EXPECT_EQ(route_status(*data, "/incidents/" + std::string(kBundleId)), 404u);
  EXPECT_EQ(route_status(*data, base), 404u);
  EXPECT_EQ(route_status(*data, base + "nope.txt"), 404u);
  EXPECT_EQ(route_status(*data, "/incidents/20261205-101500-web.2-critical/summary.txt"), 404u);

  // A file that appears after the listing is not served until the store lists it again.
  write_bundle_text(bundles.bundle("late.txt"), "late\n");
  EXPECT_EQ(route_status(*data, base + "late.txt"), 404u);
  feed.incidents_changed();
  EXPECT_EQ(route_status(*feed.build(""), base + "late.txt"), 200u);

  // A listed name that is a link (to outside the bundle) is not followed.
  fs::remove(bundles.bundle("summary.txt"));
  fs::create_symlink(bundles.dir / "secret.txt", bundles.bundle("summary.txt"));
  EXPECT_EQ(route_status(*data, base + "summary.txt"), 404u);
}

TEST(DashboardRoutes, IncidentsListNewestFirstWithTheirFiles) {
  DashboardBundles bundles;
  fs::create_directories(fs::path(bundles.incidents()) / "20261205-101600-web.2-leak");
  DashboardFeed feed(bundles.incidents());
  const auto answer = dashboard_response(feed.build("").get(), "/api/incidents", "");
  ASSERT_TRUE(answer.has_value());
  EXPECT_EQ(answer->status, 200u);
  const auto json = nlohmann::json::parse(answer->body);
  ASSERT_EQ(json["incidents"].size(), 2u);
  EXPECT_EQ(json["incidents"][0]["id"], "20261205-101600-web.2-leak");
  const auto& critical = json["incidents"][1];
  EXPECT_EQ(critical["trigger"], "critical");
  EXPECT_EQ(critical["instance"], "web.1");
  std::vector<std::string> names;
  for (const auto& file : critical["files"]) names.push_back(file["name"]);
  EXPECT_EQ(names, (std::vector<std::string>{"incident.json", "memory.svg", "summary.txt"}));
}

TEST(DashboardRoutes, EventsAfterNAndBounded) {
  DashboardFeed feed("/nonexistent");
  for (int i = 1; i <= 3; ++i) feed.add_event({{"event", "started"}, {"instance", i}});
  auto data = feed.build("");
  auto after = [&](std::string_view n) {
    auto answer = dashboard_response(data.get(), "/api/events", n);
    EXPECT_TRUE(answer.has_value());
    return answer ? nlohmann::json::parse(answer->body) : nlohmann::json();
  };
  EXPECT_EQ(after("")["events"].size(), 3u);
  const auto newer = after("1");
  ASSERT_EQ(newer["events"].size(), 2u);
  EXPECT_EQ(newer["events"][0]["seq"], 2);
  EXPECT_EQ(newer["events"][0]["instance"], 2);
  EXPECT_EQ(newer["last"], 3);
  EXPECT_EQ(after("3")["events"].size(), 0u);
  EXPECT_EQ(dashboard_response(data.get(), "/api/events", "x1")->status, 400u);
  EXPECT_EQ(dashboard_response(data.get(), "/api/events", "-1")->status, 400u);

  // Only the latest kMaxEvents are kept: a burst costs bounded memory.
  for (size_t i = 0; i < DashboardFeed::kMaxEvents + 50; ++i) feed.add_event({{"event", "x"}});
  data = feed.build("");
  const auto all = after("0");
  ASSERT_EQ(all["events"].size(), DashboardFeed::kMaxEvents);
  EXPECT_EQ(all["last"], 3 + DashboardFeed::kMaxEvents + 50);
  EXPECT_EQ(all["events"][0]["seq"], 3 + 50 + 1);
}

TEST(DashboardRoutes, ControllerFieldsDropped) {
  DashboardFeed feed("/nonexistent");
  feed.add_event({{"type", "event"}, {"event", "exited"}, {"state", {{"pid", 1}}}});
  const auto json =
      nlohmann::json::parse(dashboard_response(feed.build("").get(), "/api/events", "")->body);
  ASSERT_EQ(json["events"].size(), 1u);
  EXPECT_FALSE(json["events"][0].contains("type"));
  EXPECT_FALSE(json["events"][0].contains("state"));
  EXPECT_EQ(json["events"][0]["event"], "exited");
}

TEST(DashboardRoutes, SeriesAsBuiltAndKeptUntilBuiltAgain) {
  DashboardFeed feed("/nonexistent");
  const auto pending = dashboard_response(feed.build("").get(), "/api/series", "");
  EXPECT_EQ(pending->status, 200u);
  EXPECT_EQ(nlohmann::json::parse(pending->body)["pending"], true);
  feed.build(R"({"instances":[]})");
  const auto kept = dashboard_response(feed.build("").get(), "/api/series", "");
  EXPECT_EQ(kept->status, 200u);
  EXPECT_EQ(kept->body, R"({"instances":[]})");
}

TEST(DashboardRoutes, PageFilesAreEmbedded) {
  const auto page = dashboard_response(nullptr, "/", "");
  ASSERT_TRUE(page.has_value());
  EXPECT_EQ(page->content_type, "text/html; charset=utf-8");
  EXPECT_NE(page->body.find("<script src=\"/dashboard.js\""), std::string::npos);
  EXPECT_EQ(page->body.find("<script>"), std::string::npos);  // nothing inline: the CSP forbids it
  EXPECT_TRUE(page->csp.empty());                             // the page's own policy
  for (const char* path : {"/dashboard.js", "/dashboard.css", "/uplot.js", "/uplot.css"}) {
    const auto file = dashboard_response(nullptr, path, "");
    ASSERT_TRUE(file.has_value()) << path;
    EXPECT_GT(file->body.size(), 100u) << path;
  }
  EXPECT_NE(dashboard_response(nullptr, "/uplot.js", "")->body.find("uPlot"), std::string::npos);
  EXPECT_FALSE(dashboard_response(nullptr, "/metrics", "").has_value());  // not the dashboard's
  EXPECT_FALSE(dashboard_response(nullptr, "/nope", "").has_value());
}

}  // namespace
}  // namespace memvisor
