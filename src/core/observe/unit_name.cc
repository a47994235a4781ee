#include "core/observe/unit_name.h"

#include <fmt/format.h>

#include <charconv>

namespace memvisor {
namespace {

// A whole positive decimal number, or 0.
int positive(std::string_view text) {
  int value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  return ec == std::errc{} && end == text.data() + text.size() && value > 0 ? value : 0;
}

}  // namespace

std::string unit_name(std::string_view service, int instance, int child) {
  if (instance <= 0) return std::string(service);
  if (child <= 0) return fmt::format("{}.{}", service, instance);
  return fmt::format("{}.{}/{}", service, instance, child);
}

std::optional<UnitName> parse_unit_name(std::string_view text) {
  UnitName name;
  // The pid after the slash: a service name has no '/', so the last one is it.
  if (const size_t slash = text.rfind('/'); slash != std::string_view::npos) {
    name.child = positive(text.substr(slash + 1));
    if (name.child == 0) return std::nullopt;
    text = text.substr(0, slash);
  }
  if (const size_t dot = text.rfind('.'); dot != std::string_view::npos) {
    name.instance = positive(text.substr(dot + 1));
    if (name.instance > 0) text = text.substr(0, dot);
  }
  if (name.child != 0 && name.instance == 0) return std::nullopt;
  if (text.empty()) return std::nullopt;
  name.service = std::string(text);
  return name;
}

}  // namespace memvisor
