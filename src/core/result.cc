#include "core/result.h"

#include <cstring>

namespace memvisor {

std::string Error::describe() const {
  if (errnum == 0) return message;
  return message + ": " + std::strerror(errnum);
}

}  // namespace memvisor
