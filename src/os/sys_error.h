// Internal to src/os: builds an Error from errno, reading errno before anything can disturb it.
#pragma once

#include <cerrno>
#include <string>
#include <string_view>

#include "core/result.h"

namespace memvisor {

// "bind notify socket" + "/run/x.sock" -> "bind notify socket /run/x.sock" with the current errno.
// Takes views so that no allocation (which may touch errno) happens before errno is read.
inline Error sys_error(std::string_view what, std::string_view subject = {}) {
  const int err = errno;
  std::string message(what);
  if (!subject.empty()) {
    message += ' ';
    message += subject;
  }
  return Error{std::move(message), err};
}

}  // namespace memvisor
