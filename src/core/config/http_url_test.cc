#include "core/config/http_url.h"

#include <gtest/gtest.h>

namespace memvisor {
namespace {

TEST(HttpUrl, HostPortAndPath) {
  auto url = parse_http_url("http://127.0.0.1:6060");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->host, "127.0.0.1");
  EXPECT_EQ(url->port, 6060);
  EXPECT_EQ(url->path, "");
  url = parse_http_url("http://[::1]:7000/internal/");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->host, "::1");
  EXPECT_EQ(url->port, 7000);
  EXPECT_EQ(url->path, "/internal");
  url = parse_http_url("http://localhost");
  ASSERT_TRUE(url);
  EXPECT_EQ(url->port, 80);
}

TEST(HttpUrl, RefusesWhatItCannotReach) {
  for (const char* bad :
       {"https://127.0.0.1:6060", "127.0.0.1:6060", "http://", "http://:80", "http://h:0",
        "http://h:70000", "http://h:", "http://u@h:1", "http://h:1/x?y", "http://[::1:80"}) {
    EXPECT_FALSE(parse_http_url(bad)) << bad;
  }
  EXPECT_EQ(check_pprof_url("https://x"),
            "expected a URL like http://127.0.0.1:6060, got 'https://x'");
}

}  // namespace
}  // namespace memvisor
