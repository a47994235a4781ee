#include "core/proc/children_list.h"

#include <charconv>

namespace memvisor {

void parse_children_list(std::string_view text, std::vector<int>& out) {
  while (!text.empty()) {
    const size_t start = text.find_first_not_of(" \n");
    if (start == std::string_view::npos) return;
    text.remove_prefix(start);
    int pid = 0;
    const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), pid);
    if (ec != std::errc() || pid <= 0) return;
    out.push_back(pid);
    text.remove_prefix(static_cast<size_t>(end - text.data()));
  }
}

}  // namespace memvisor
