// The inspector's HTTP answers, on a /json/list response captured from Node 20 (HTTP/1.0 with a
// Content-Length), and on answers it must refuse.
#include "runtimes/node/inspector_session.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>

#include "core/test_fixtures.h"

namespace memvisor::nodejs {
namespace {

TEST(InspectorSession, TargetOfACapturedJsonList) {
  std::ifstream in(fixture_path("runtimes/node/json_list_response"));
  ASSERT_TRUE(in.good());
  std::ostringstream text;
  text << in.rdbuf();
  auto body = http_ok_body(text.str());
  ASSERT_TRUE(body.ok()) << body.error().message;
  auto path = debugger_path_from_json_list(*body);
  ASSERT_TRUE(path.ok()) << path.error().message;
  EXPECT_EQ(*path, "/f9d75882-19e0-4613-b175-6d3064b09956");
}

TEST(InspectorSession, RefusedAnswers) {
  EXPECT_FALSE(http_ok_body("HTTP/1.1 404 Not Found\r\n\r\n").ok());
  EXPECT_FALSE(http_ok_body("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort").ok());
  EXPECT_FALSE(http_ok_body("HTTP/1.1 200 OK\r\n").ok());
  EXPECT_EQ(*http_ok_body("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n[]extra"), "[]");
  EXPECT_FALSE(debugger_path_from_json_list("{}").ok());
  EXPECT_FALSE(debugger_path_from_json_list("[{\"webSocketDebuggerUrl\": 5}]").ok());
  EXPECT_FALSE(debugger_path_from_json_list("[{\"webSocketDebuggerUrl\": \"http://x/y\"}]").ok());
  EXPECT_FALSE(debugger_path_from_json_list("not json").ok());
  EXPECT_EQ(*debugger_path_from_json_list(
                R"([{"id": 1}, {"webSocketDebuggerUrl": "ws://[::1]:9229/abc"}])"),
            "/abc");
}

TEST(InspectorSession, StringMember) {
  const auto j = nlohmann::json::parse(R"({"method": "X.y", "n": 1})");
  EXPECT_EQ(json_string_member(j, "method"), "X.y");
  EXPECT_EQ(json_string_member(j, "n"), "");
  EXPECT_EQ(json_string_member(j, "missing"), "");
  EXPECT_EQ(json_string_member(nlohmann::json::array(), "method"), "");
}

TEST(InspectorSession, NothingListeningIsAnErrorAtOnce) {
  // Port 1 on loopback: refused at once, no wait for the deadline.
  const auto start = std::chrono::steady_clock::now();
  auto session = InspectorSession::open("127.0.0.1", 1, start + std::chrono::seconds(20));
  EXPECT_FALSE(session.ok());
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}

}  // namespace
}  // namespace memvisor::nodejs
