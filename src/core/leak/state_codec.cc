// Fixed-width little-endian fields for checkpointed state (see state_codec.h).
#include "core/leak/state_codec.h"

#include <bit>
#include <cstring>
#include <limits>

namespace memvisor {

void StateWriter::u32(uint32_t v) {
  for (int i = 0; i < 4; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void StateWriter::u64(uint64_t v) {
  for (int i = 0; i < 8; ++i) out_.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

void StateWriter::f64(double v) {
  u64(std::bit_cast<uint64_t>(v));
}

void StateWriter::bytes(std::string_view v) {
  u32(static_cast<uint32_t>(v.size()));
  out_.append(v);
}

bool StateReader::take(size_t n, const char** at) {
  if (!ok_ || in_.size() - pos_ < n) {
    ok_ = false;
    return false;
  }
  *at = in_.data() + pos_;
  pos_ += n;
  return true;
}

uint8_t StateReader::u8() {
  const char* at = nullptr;
  return take(1, &at) ? static_cast<uint8_t>(*at) : 0;
}

uint32_t StateReader::u32() {
  const char* at = nullptr;
  if (!take(4, &at)) return 0;
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<uint8_t>(at[i])) << (8 * i);
  return v;
}

uint64_t StateReader::u64() {
  const char* at = nullptr;
  if (!take(8, &at)) return 0;
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<uint8_t>(at[i])) << (8 * i);
  return v;
}

double StateReader::f64() {
  return std::bit_cast<double>(u64());
}

std::string_view StateReader::bytes() {
  const uint32_t n = u32();
  const char* at = nullptr;
  if (!take(n, &at)) return {};
  return {at, n};
}

uint64_t fnv1a64(std::string_view data) {
  uint64_t hash = 14695981039346656037ull;
  for (char c : data) {
    hash ^= static_cast<uint8_t>(c);
    hash *= 1099511628211ull;
  }
  return hash;
}

}  // namespace memvisor
