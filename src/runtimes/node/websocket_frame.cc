// RFC 6455 framing for a client: handshake, masked frames out, checked frames in.
#include "runtimes/node/websocket_frame.h"

#include <algorithm>

#include "runtimes/node/http_head.h"
#include "runtimes/node/sha1_base64.h"

namespace memvisor::nodejs {
namespace {

constexpr std::string_view kWebSocketGuid = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

bool equals_ignoring_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    const char x = (a[i] >= 'A' && a[i] <= 'Z') ? static_cast<char>(a[i] + 32) : a[i];
    const char y = (b[i] >= 'A' && b[i] <= 'Z') ? static_cast<char>(b[i] + 32) : b[i];
    if (x != y) return false;
  }
  return true;
}

}  // namespace

std::string websocket_upgrade_request(std::string_view host, std::string_view path,
                                      std::string_view key) {
  std::string out = "GET ";
  out += path;
  out += " HTTP/1.1\r\nHost: ";
  out += host;
  out += "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ";
  out += key;
  out += "\r\nSec-WebSocket-Version: 13\r\n\r\n";
  return out;
}

std::string websocket_accept_for(std::string_view key) {
  std::string text(key);
  text += kWebSocketGuid;
  const auto digest = sha1(text);
  return base64_encode(digest.data(), digest.size());
}

Status check_websocket_upgrade(std::string_view head, std::string_view key) {
  auto parsed = parse_http_head(head);
  if (!parsed) return Error{"the WebSocket upgrade got no HTTP response", 0};
  if (parsed->status != 101)
    return Error{"the WebSocket upgrade was refused with HTTP " + std::to_string(parsed->status),
                 0};
  if (!equals_ignoring_case(parsed->header("upgrade"), "websocket"))
    return Error{"the WebSocket upgrade's answer has no \"Upgrade: websocket\"", 0};
  if (parsed->header("sec-websocket-accept") != websocket_accept_for(key))
    return Error{"the WebSocket upgrade's answer has a wrong Sec-WebSocket-Accept", 0};
  return {};
}

std::string encode_client_frame(WsOpcode opcode, std::string_view payload,
                                const std::array<uint8_t, 4>& mask) {
  std::string out;
  out.reserve(payload.size() + 14);
  out += static_cast<char>(0x80 | static_cast<uint8_t>(opcode));
  const uint64_t size = payload.size();
  if (size < 126) {
    out += static_cast<char>(0x80 | size);
  } else if (size <= 0xFFFF) {
    out += static_cast<char>(0x80 | 126);
    out += static_cast<char>((size >> 8) & 0xFF);
    out += static_cast<char>(size & 0xFF);
  } else {
    out += static_cast<char>(0x80 | 127);
    for (int shift = 56; shift >= 0; shift -= 8) out += static_cast<char>((size >> shift) & 0xFF);
  }
  for (const uint8_t byte : mask) out += static_cast<char>(byte);
  for (size_t i = 0; i < payload.size(); ++i)
    out += static_cast<char>(static_cast<uint8_t>(payload[i]) ^ mask[i % 4]);
  return out;
}

Status WsDecoder::feed(std::string_view bytes) {
  buffer_.append(bytes);
  return parse_frames();
}

std::optional<WsEvent> WsDecoder::next() {
  if (ready_.empty()) return std::nullopt;
  WsEvent event = std::move(ready_.front());
  ready_.pop_front();
  return event;
}

Status WsDecoder::parse_frames() {
  size_t at = 0;
  auto byte = [&](size_t i) { return static_cast<uint8_t>(buffer_[at + i]); };
  while (buffer_.size() - at >= 2) {
    const bool fin = (byte(0) & 0x80) != 0;
    if (byte(0) & 0x70) return Error{"the inspector sent a WebSocket frame with RSV bits set", 0};
    const uint8_t opcode = byte(0) & 0x0F;
    if (byte(1) & 0x80) return Error{"the inspector sent a masked WebSocket frame", 0};
    uint64_t size = byte(1) & 0x7F;
    size_t header = 2;
    if (size == 126) {
      if (buffer_.size() - at < 4) break;
      size = (uint64_t{byte(2)} << 8) | byte(3);
      header = 4;
    } else if (size == 127) {
      if (buffer_.size() - at < 10) break;
      size = 0;
      for (size_t i = 0; i < 8; ++i) size = (size << 8) | byte(2 + i);
      header = 10;
    }
    const bool control = (opcode & 0x08) != 0;
    if (control && (!fin || size > 125))
      return Error{"the inspector sent a fragmented or oversized WebSocket control frame", 0};
    if (opcode != 0 && opcode != 1 && opcode != 2 && opcode != 8 && opcode != 9 && opcode != 10)
      return Error{
          "the inspector sent a WebSocket frame of unknown opcode " + std::to_string(opcode), 0};
    // Refused from the header alone, so a huge length is never buffered.
    if (!control && size > max_message_ - std::min(max_message_, partial_.size()))
      return Error{"the inspector's message is larger than the limit of " +
                       std::to_string(max_message_ >> 20) + " MiB",
                   0};
    if (buffer_.size() - at - header < size) break;
    const std::string_view payload(buffer_.data() + at + header, static_cast<size_t>(size));
    if (opcode == 8) {
      ready_.push_back({WsEvent::Kind::close, std::string(payload)});
    } else if (opcode == 9) {
      ready_.push_back({WsEvent::Kind::ping, std::string(payload)});
    } else if (opcode == 10) {
      // An unsolicited pong: nothing to do.
    } else if (opcode == 0) {
      if (!in_message_) return Error{"the inspector sent a continuation with no message", 0};
      partial_.append(payload);
    } else {
      if (in_message_) return Error{"the inspector began a message inside another", 0};
      partial_.assign(payload);
      in_message_ = true;
    }
    if (!control && fin) {
      ready_.push_back({WsEvent::Kind::message, std::move(partial_)});
      partial_.clear();
      in_message_ = false;
    }
    at += header + static_cast<size_t>(size);
  }
  buffer_.erase(0, at);
  return {};
}

}  // namespace memvisor::nodejs
