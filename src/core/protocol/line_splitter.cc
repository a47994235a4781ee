#include "core/protocol/line_splitter.h"

namespace memvisor {

void LineSplitter::feed(std::string_view bytes, const Sink& sink) {
  while (!bytes.empty()) {
    const size_t newline = bytes.find('\n');
    if (newline == std::string_view::npos) {
      partial_.append(bytes);
      bytes = {};
    } else {
      partial_.append(bytes.substr(0, newline));
      bytes.remove_prefix(newline + 1);
      sink(partial_);
      partial_.clear();
      continue;
    }
    while (partial_.size() >= max_line_) {
      sink(std::string_view(partial_).substr(0, max_line_));
      partial_.erase(0, max_line_);
    }
  }
}

void LineSplitter::flush(const Sink& sink) {
  if (partial_.empty()) return;
  sink(partial_);
  partial_.clear();
}

}  // namespace memvisor
