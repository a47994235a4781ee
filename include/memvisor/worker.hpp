// memvisor worker library, C++ API: thin inline wrappers over the C ABI of <memvisor/worker.h>,
// so the shared library exports plain C symbols and no C++ type crosses its boundary.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <memvisor/worker.h>

namespace memvisor::client {

// Starts the connection now (otherwise the first call does). False when MEMVISOR_SOCKET is unset.
inline bool init() noexcept {
  return mv_init() != 0;
}
// Ready to serve (also READY=1 to NOTIFY_SOCKET).
inline void ready() noexcept {
  mv_ready();
}
// One request served: an atomic increment; the counts are sent in batches.
inline void request_done(std::uint64_t count = 1) noexcept {
  if (count == 1) {
    mv_request_done();
  } else {
    mv_requests_done(count);
  }
}
// A short human status (also STATUS= to NOTIFY_SOCKET).
inline void status(std::string_view text) {
  const std::string copy(text);  // the C ABI wants a terminated string
  mv_status(copy.c_str());
}
// A gauge's latest value (see mv_gauge): false for a bad name, a value that is not finite or a
// 33rd name.
inline bool gauge(std::string_view name, double value) {
  const std::string copy(name);
  return mv_gauge(copy.c_str(), value) == 0;
}
inline bool connected() noexcept {
  return mv_connected() != 0;
}
inline std::uint64_t requests_total() noexcept {
  return mv_requests_total();
}

}  // namespace memvisor::client
