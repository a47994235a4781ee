// SHA-1 and base64, only for the WebSocket handshake's Sec-WebSocket-Accept check (RFC 6455
// section 4.2.2); not for anything that needs a secure hash.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace memvisor::nodejs {

std::array<uint8_t, 20> sha1(std::string_view data);
std::string base64_encode(const uint8_t* data, size_t size);

}  // namespace memvisor::nodejs
