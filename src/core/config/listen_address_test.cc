// The HTTP listen address: accepted forms, the loopback default, and the message for each bad form.
#include "core/config/listen_address.h"

#include <gtest/gtest.h>

namespace memvisor {
namespace {

std::string parsed(std::string_view text) {
  auto address = parse_listen_address(text);
  return address ? to_string(*address) : "error: " + address.error().message;
}

TEST(ListenAddress, AcceptedForms) {
  EXPECT_EQ(parsed("127.0.0.1:9464"), "127.0.0.1:9464");
  EXPECT_EQ(parsed("0.0.0.0:80"), "0.0.0.0:80");
  EXPECT_EQ(parsed("[::1]:9464"), "[::1]:9464");
  EXPECT_EQ(parsed("[::]:1"), "[::]:1");
  EXPECT_EQ(parsed("localhost:65535"), "127.0.0.1:65535");
}

TEST(ListenAddress, PortAloneMeansLoopback) {
  auto address = parse_listen_address(":9464");
  ASSERT_TRUE(address.ok());
  EXPECT_EQ(address->host, "127.0.0.1");
  EXPECT_EQ(address->port, 9464);
  EXPECT_FALSE(address->ipv6);
}

TEST(ListenAddress, BadForms) {
  EXPECT_EQ(parsed(""),
            "error: empty address; expected HOST:PORT, [IPV6]:PORT or :PORT (e.g. "
            "\"127.0.0.1:9464\")");
  EXPECT_EQ(parsed("9464"),
            "error: missing ':PORT'; expected HOST:PORT, [IPV6]:PORT or :PORT "
            "(e.g. \"127.0.0.1:9464\")");
  EXPECT_EQ(parsed("127.0.0.1:0"), "error: port '0': expected a number from 1 to 65535");
  EXPECT_EQ(parsed("127.0.0.1:65536"), "error: port '65536': expected a number from 1 to 65535");
  EXPECT_EQ(parsed("127.0.0.1:"), "error: port '': expected a number from 1 to 65535");
  EXPECT_EQ(parsed("127.0.0.1:-1"), "error: port '-1': expected a number from 1 to 65535");
  EXPECT_EQ(parsed("127.0.0.1:94x"), "error: port '94x': expected a number from 1 to 65535");
  EXPECT_EQ(parsed("::1:9464"), "error: an IPv6 address needs brackets: [::1]:PORT");
  EXPECT_EQ(parsed("[::1"), "error: missing ']' after the IPv6 address");
  EXPECT_EQ(parsed("[::1]9464"),
            "error: missing ':PORT' after ']'; expected HOST:PORT, "
            "[IPV6]:PORT or :PORT (e.g. \"127.0.0.1:9464\")");
  EXPECT_EQ(parsed("[1.2.3.4]:80"), "error: '1.2.3.4' is not an IPv6 address");
  EXPECT_EQ(parsed("256.0.0.1:80"),
            "error: '256.0.0.1' is not an IP address (names are not resolved; use 127.0.0.1, "
            "0.0.0.0, [::1] or an interface's address)");
  EXPECT_EQ(parsed("metrics.example.com:80")
                .rfind("error: 'metrics.example.com' is not an IP address", 0),
            0u);
}

}  // namespace
}  // namespace memvisor
