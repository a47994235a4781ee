// The client side of RFC 6455 WebSocket framing, as much as a DevTools-protocol client on
// loopback needs: the upgrade request and its check, masked client frames, and an incremental
// decoder of the server's frames (16- and 64-bit lengths, continuations, ping, close) that
// refuses a message larger than its limit before buffering it. Pure: no sockets here.
//
// Written out rather than taken from libwebsockets, websocketpp or Boost.Beast: the peer is V8's
// inspector on 127.0.0.1 (text frames, no extensions, no TLS), and what the sampler needs -- one
// deadline over every read, a bound on each message, no threads, no exceptions, in a short-lived
// CLI process -- is the part those libraries make hardest (an event loop with callbacks and its
// own context, exceptions through asio, or several seconds of template compile per file).
#pragma once

#include <array>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace memvisor::nodejs {

enum class WsOpcode : uint8_t {
  continuation = 0,
  text = 1,
  binary = 2,
  close = 8,
  ping = 9,
  pong = 10
};

// "GET PATH HTTP/1.1" with the upgrade headers; `key` is base64 of 16 random bytes.
std::string websocket_upgrade_request(std::string_view host, std::string_view path,
                                      std::string_view key);
// base64(SHA-1(key + the RFC's GUID)): what the server must answer in Sec-WebSocket-Accept.
std::string websocket_accept_for(std::string_view key);
// The server's response head (through "\r\n\r\n") accepts the upgrade for `key`.
Status check_websocket_upgrade(std::string_view head, std::string_view key);

// One frame from client to server: FIN set, payload masked with `mask` (RFC 6455 5.3).
std::string encode_client_frame(WsOpcode opcode, std::string_view payload,
                                const std::array<uint8_t, 4>& mask);

struct WsEvent {
  enum class Kind { message, ping, close };
  Kind kind = Kind::message;
  std::string payload;  // a whole (reassembled) message, a ping's data, or a close's body
};

class WsDecoder {
 public:
  explicit WsDecoder(size_t max_message) : max_message_(max_message) {}

  // Takes more bytes from the server; an error is a protocol violation or a message over the
  // limit (the connection is then useless).
  Status feed(std::string_view bytes);
  // The next whole message or control frame, in order.
  std::optional<WsEvent> next();

 private:
  Status parse_frames();

  size_t max_message_;
  std::string buffer_;       // bytes not yet parsed
  std::string partial_;      // a fragmented message so far
  bool in_message_ = false;  // a text or binary frame without FIN was seen
  std::deque<WsEvent> ready_;
};

}  // namespace memvisor::nodejs
