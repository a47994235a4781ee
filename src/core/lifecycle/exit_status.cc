#include "core/lifecycle/exit_status.h"

#include <fmt/format.h>

#include <cstring>

namespace memvisor {
namespace {

std::string name_of(int signal) {
  const char* abbrev = sigabbrev_np(signal);
  return abbrev != nullptr ? fmt::format("SIG{}", abbrev) : fmt::format("signal {}", signal);
}

}  // namespace

std::string ExitStatus::describe() const {
  if (!signaled) return fmt::format("exited with code {}", code);
  return fmt::format("killed by {}{}", name_of(signal), core_dumped ? " (core dumped)" : "");
}

std::string ExitStatus::brief() const {
  if (!signaled) return fmt::format("code {}", code);
  return name_of(signal);
}

}  // namespace memvisor
