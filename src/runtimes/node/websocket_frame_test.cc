// The WebSocket client's framing and handshake against RFC 6455's own examples, and the decoder
// against the frames a server may send: every length form, fragments, control frames between
// fragments, bytes arriving one at a time, and each protocol violation it must refuse.
#include "runtimes/node/websocket_frame.h"

#include <gtest/gtest.h>

#include "runtimes/node/sha1_base64.h"

namespace memvisor::nodejs {
namespace {

std::string bytes(std::initializer_list<int> values) {
  std::string out;
  for (const int v : values) out += static_cast<char>(v);
  return out;
}

std::string server_frame(int first_byte, const std::string& payload) {
  std::string out = bytes({first_byte});
  const uint64_t n = payload.size();
  if (n < 126) {
    out += static_cast<char>(n);
  } else if (n <= 0xFFFF) {
    out += bytes({126, static_cast<int>(n >> 8), static_cast<int>(n & 0xFF)});
  } else {
    out += static_cast<char>(127);
    for (int shift = 56; shift >= 0; shift -= 8) out += static_cast<char>((n >> shift) & 0xFF);
  }
  return out + payload;
}

TEST(WebSocketHandshake, AcceptOfTheRfcExample) {
  EXPECT_EQ(websocket_accept_for("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
}

TEST(WebSocketHandshake, Sha1AndBase64KnownAnswers) {
  const auto digest = sha1("abc");
  EXPECT_EQ(base64_encode(digest.data(), digest.size()), "qZk+NkcGgWq6PiVxeFDCbJzQ2J0=");
  const auto empty = sha1("");
  EXPECT_EQ(base64_encode(empty.data(), empty.size()), "2jmj7l5rSw0yVb/vlWAYkK/YBwk=");
  // 56 bytes: the padding spills into a second block.
  const auto two_blocks = sha1("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq");
  EXPECT_EQ(base64_encode(two_blocks.data(), two_blocks.size()), "hJg+RBw70m66rkqh+VEp5eVGcPE=");
  const uint8_t one[] = {'f'};
  EXPECT_EQ(base64_encode(one, 1), "Zg==");
}

TEST(WebSocketHandshake, RequestAndItsCheck) {
  const std::string request = websocket_upgrade_request("127.0.0.1:9229", "/abc", "KEY");
  EXPECT_EQ(request.rfind("GET /abc HTTP/1.1\r\nHost: 127.0.0.1:9229\r\n", 0), 0u);
  EXPECT_NE(request.find("Sec-WebSocket-Key: KEY\r\n"), std::string::npos);
  EXPECT_NE(request.find("Sec-WebSocket-Version: 13\r\n"), std::string::npos);
  EXPECT_EQ(request.substr(request.size() - 4), "\r\n\r\n");

  const std::string key = "dGhlIHNhbXBsZSBub25jZQ==";
  EXPECT_TRUE(check_websocket_upgrade("HTTP/1.1 101 Switching Protocols\r\nUpgrade: WebSocket\r\n"
                                      "Connection: Upgrade\r\nSec-WebSocket-Accept: "
                                      "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n",
                                      key)
                  .ok());
  const auto wrong = check_websocket_upgrade(
      "HTTP/1.1 101 OK\r\nUpgrade: websocket\r\nSec-WebSocket-Accept: AAAA\r\n\r\n", key);
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.error().message.find("Sec-WebSocket-Accept"), std::string::npos);
  const auto refused = check_websocket_upgrade("HTTP/1.0 403 Forbidden\r\n\r\n", key);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("403"), std::string::npos);
  EXPECT_FALSE(check_websocket_upgrade("garbage\r\n\r\n", key).ok());
}

TEST(WebSocketFrame, MaskedHelloOfTheRfc) {
  // RFC 6455 5.7: a single-frame masked text message "Hello".
  EXPECT_EQ(encode_client_frame(WsOpcode::text, "Hello", {0x37, 0xfa, 0x21, 0x3d}),
            bytes({0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58}));
}

TEST(WebSocketFrame, ClientLengthForms) {
  const std::array<uint8_t, 4> zero{};
  EXPECT_EQ(encode_client_frame(WsOpcode::text, std::string(125, 'a'), zero).size(), 2u + 4 + 125);
  const std::string medium = encode_client_frame(WsOpcode::text, std::string(126, 'a'), zero);
  EXPECT_EQ(medium.substr(1, 3), bytes({0x80 | 126, 0, 126}));
  const std::string large = encode_client_frame(WsOpcode::text, std::string(65536, 'a'), zero);
  EXPECT_EQ(large.substr(1, 9), bytes({0x80 | 127, 0, 0, 0, 0, 0, 1, 0, 0}));
  EXPECT_EQ(large.size(), 14u + 65536);
  EXPECT_EQ(encode_client_frame(WsOpcode::close, "", zero), bytes({0x88, 0x80, 0, 0, 0, 0}));
}

TEST(WebSocketDecoder, UnmaskedHelloOfTheRfc) {
  WsDecoder decoder(1024);
  ASSERT_TRUE(decoder.feed(bytes({0x81, 0x05, 0x48, 0x65, 0x6c, 0x6c, 0x6f})).ok());
  auto event = decoder.next();
  ASSERT_TRUE(event);
  EXPECT_EQ(event->kind, WsEvent::Kind::message);
  EXPECT_EQ(event->payload, "Hello");
  EXPECT_FALSE(decoder.next());
}

TEST(WebSocketDecoder, FragmentsWithAPingBetweenThem) {
  // RFC 6455 5.7: "Hel" then "lo"; a ping may come between fragments.
  WsDecoder decoder(1024);
  ASSERT_TRUE(decoder.feed(bytes({0x01, 0x03, 0x48, 0x65, 0x6c})).ok());
  EXPECT_FALSE(decoder.next());
  ASSERT_TRUE(decoder.feed(bytes({0x89, 0x02, 'h', 'i'})).ok());
  ASSERT_TRUE(decoder.feed(bytes({0x80, 0x02, 0x6c, 0x6f})).ok());
  auto ping = decoder.next();
  ASSERT_TRUE(ping);
  EXPECT_EQ(ping->kind, WsEvent::Kind::ping);
  EXPECT_EQ(ping->payload, "hi");
  auto message = decoder.next();
  ASSERT_TRUE(message);
  EXPECT_EQ(message->payload, "Hello");
}

TEST(WebSocketDecoder, LongLengthsFedOneByteAtATime) {
  const std::string medium(300, 'm'), large(70000, 'L');
  const std::string stream = server_frame(0x81, medium) + server_frame(0x82, large) +
                             server_frame(0x8A, "pong") + server_frame(0x88, bytes({0x03, 0xE8}));
  WsDecoder decoder(1 << 20);
  for (const char c : stream) ASSERT_TRUE(decoder.feed(std::string_view(&c, 1)).ok());
  auto first = decoder.next();
  auto second = decoder.next();
  auto close = decoder.next();
  ASSERT_TRUE(first && second && close);
  EXPECT_EQ(first->payload, medium);
  EXPECT_EQ(second->payload, large);
  EXPECT_EQ(close->kind, WsEvent::Kind::close);  // the pong was dropped
  EXPECT_EQ(close->payload, bytes({0x03, 0xE8}));
}

TEST(WebSocketDecoder, RefusesAnOversizedMessageFromItsHeader) {
  WsDecoder decoder(1000);
  // Only the header of a 1 GiB frame: refused before any payload is buffered.
  const auto refused = decoder.feed(bytes({0x81, 127, 0, 0, 0, 0, 0x40, 0, 0, 0}));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("larger than"), std::string::npos);
  // Fragments that add up past the limit are refused too.
  WsDecoder fragments(1000);
  ASSERT_TRUE(fragments.feed(server_frame(0x01, std::string(600, 'a'))).ok());
  EXPECT_FALSE(fragments.feed(server_frame(0x80, std::string(600, 'a'))).ok());
}

TEST(WebSocketDecoder, RefusesProtocolViolations) {
  const std::string cases[] = {
      bytes({0x81, 0x85, 1, 2, 3, 4, 'a', 'b', 'c', 'd', 'e'}),  // masked by the server
      bytes({0xC1, 0x00}),                                       // RSV1 without an extension
      bytes({0x83, 0x00}),                                       // unknown opcode
      bytes({0x09, 0x00}),                                       // fragmented ping
      server_frame(0x89, std::string(126, 'p')),                 // control frame over 125 bytes
      bytes({0x80, 0x01, 'x'}),                                  // continuation of nothing
      bytes({0x01, 0x01, 'x', 0x01, 0x01, 'y'}),                 // a message inside a message
  };
  for (const std::string& frame : cases) {
    WsDecoder decoder(1024);
    EXPECT_FALSE(decoder.feed(frame).ok()) << testing::PrintToString(frame);
  }
}

}  // namespace
}  // namespace memvisor::nodejs
