// The name of a measured unit: an instance ("web.1") or, for a pre-fork server, one child of an
// instance's process ("web.1/12345": the instance, a slash, the child's pid). Events, status,
// incidents and the CLI all say it this way.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace memvisor {

struct UnitName {
  std::string service;
  int instance = 0;  // 0: the whole service ("web")
  int child = 0;     // 0: the instance's own process
};

// "web", "web.1" or "web.1/12345".
std::string unit_name(std::string_view service, int instance, int child = 0);
// The inverse; nullopt for an empty service, a child without an instance, or a bad number.
std::optional<UnitName> parse_unit_name(std::string_view text);

}  // namespace memvisor
