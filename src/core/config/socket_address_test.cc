#include "core/config/socket_address.h"

#include <gtest/gtest.h>

namespace memvisor {
namespace {

SocketAddress address_of(std::string_view text) {
  auto address = parse_socket_address(text);
  EXPECT_TRUE(address) << text << ": " << (address ? "" : address.error().message);
  return address ? *address : SocketAddress{};
}

TEST(SocketAddress, ReadsEachFormAndWritesItBack) {
  for (std::string_view text :
       {"127.0.0.1:8000", "[::1]:8000", "0.0.0.0:80", "[::]:8443", "unix:/run/app/web.sock",
        "unix:relative.sock", "unix:@web", "fdname:web-http"}) {
    EXPECT_EQ(to_string(address_of(text)), text);
  }
  EXPECT_EQ(to_string(address_of(":8000")), "127.0.0.1:8000");
  EXPECT_EQ(address_of("unix:/run/a.sock").kind, SocketAddress::Kind::unix_path);
  EXPECT_EQ(address_of("unix:@a").kind, SocketAddress::Kind::unix_abstract);
  EXPECT_EQ(address_of("unix:@a").name, "a");
  EXPECT_EQ(address_of("fdname:web").kind, SocketAddress::Kind::passed_name);
}

TEST(SocketAddress, RefusesMalformedAddressesSayingWhatWasExpected) {
  auto message = [](std::string_view text) {
    auto address = parse_socket_address(text);
    return address ? std::string("(accepted)") : address.error().message;
  };
  EXPECT_NE(message("8000").find("missing ':PORT'"), std::string::npos);
  EXPECT_NE(message("8000").find("unix:/PATH"), std::string::npos);
  EXPECT_NE(message("127.0.0.1:0").find("1 to 65535"), std::string::npos);
  EXPECT_NE(message("example.com:80").find("not an IP address"), std::string::npos);
  EXPECT_NE(message("unix:").find("expected a path"), std::string::npos);
  EXPECT_NE(message("unix:@").find("expected a path"), std::string::npos);
  EXPECT_NE(message("unix:/" + std::string(107, 'x')).find("at most 107 bytes"), std::string::npos);
  EXPECT_EQ(message("unix:/" + std::string(106, 'x')), "(accepted)");
  EXPECT_NE(message("fdname:").find("expected a socket name"), std::string::npos);
  EXPECT_NE(message("fdname:a b").find("expected a socket name"), std::string::npos);
}

TEST(SocketAddress, OverlapIsWhatTheKernelWouldRefuseToBindTwice) {
  auto overlap = [](std::string_view a, std::string_view b) {
    return addresses_overlap(address_of(a), address_of(b));
  };
  EXPECT_TRUE(overlap("127.0.0.1:8000", "127.0.0.1:8000"));
  EXPECT_TRUE(overlap("0.0.0.0:8000", "127.0.0.1:8000"));
  EXPECT_TRUE(overlap("[::]:8000", "127.0.0.1:8000"));
  EXPECT_TRUE(overlap("[::]:8000", "[::1]:8000"));
  EXPECT_FALSE(overlap("127.0.0.1:8000", "127.0.0.2:8000"));
  EXPECT_FALSE(overlap("127.0.0.1:8000", "127.0.0.1:8001"));
  EXPECT_FALSE(overlap("[::1]:8000", "127.0.0.1:8000"));
  EXPECT_FALSE(overlap("0.0.0.0:8000", "[::1]:8000"));
  EXPECT_TRUE(overlap("unix:/a.sock", "unix:/a.sock"));
  EXPECT_FALSE(overlap("unix:/a.sock", "unix:@/a.sock"));
  EXPECT_TRUE(overlap("fdname:web", "fdname:web"));
}

}  // namespace
}  // namespace memvisor
