// The one helper every libFuzzer target here shares: the input bytes as a string_view.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace memvisor::fuzz {

inline std::string_view as_text(const uint8_t* data, size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

}  // namespace memvisor::fuzz
