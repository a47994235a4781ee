// Splits a byte stream (a worker's stdout or stderr) into lines, bounding the partial line so a
// worker that never prints a newline cannot grow memvisor's memory.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace memvisor {

class LineSplitter {
 public:
  using Sink = std::function<void(std::string_view line)>;
  explicit LineSplitter(size_t max_line = 64 * 1024) : max_line_(max_line) {}

  // Calls `sink` for every complete line (without its '\n'); a partial line longer than
  // max_line is emitted in max_line pieces.
  void feed(std::string_view bytes, const Sink& sink);
  // Emits what is left (at end of stream).
  void flush(const Sink& sink);

 private:
  size_t max_line_;
  std::string partial_;
};

}  // namespace memvisor
