// A small explicit binary encoding for the state a supervisor checkpoints (the leak detector, the
// per-process rules, the retained series): fixed-width little-endian fields written and read in
// the same order by hand, so a format change is a visible edit with a version bump, and a
// truncated or garbled input is an error the reader reports, never a crash or a huge allocation.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace memvisor {

class StateWriter {
 public:
  void u8(uint8_t v) { out_.push_back(static_cast<char>(v)); }
  void boolean(bool v) { u8(v ? 1 : 0); }
  void u32(uint32_t v);
  void u64(uint64_t v);
  void i64(int64_t v) { u64(static_cast<uint64_t>(v)); }
  void f64(double v);
  // Length-prefixed (u32) bytes: a string, or a nested block a reader may skip whole.
  void bytes(std::string_view v);

  const std::string& data() const& { return out_; }
  std::string data() && { return std::move(out_); }

 private:
  std::string out_;
};

// Reads what StateWriter wrote. The first short read makes ok() false for good and every later
// read returns zeros, so a decoder reads on and checks ok() once at the end.
class StateReader {
 public:
  explicit StateReader(std::string_view in) : in_(in) {}

  uint8_t u8();
  bool boolean() { return u8() != 0; }
  uint32_t u32();
  uint64_t u64();
  int64_t i64() { return static_cast<int64_t>(u64()); }
  double f64();
  std::string_view bytes();
  // Marks the input bad (a decoder found a value out of range).
  void fail() { ok_ = false; }

  bool ok() const { return ok_; }
  size_t remaining() const { return ok_ ? in_.size() - pos_ : 0; }

 private:
  bool take(size_t n, const char** at);

  std::string_view in_;
  size_t pos_ = 0;
  bool ok_ = true;
};

// FNV-1a, 64 bits: a checksum that tells a torn or corrupted file from a good one.
uint64_t fnv1a64(std::string_view data);

}  // namespace memvisor
