// A TCP connection to a local address where every operation ends by one deadline: connect,
// send and receive poll() a non-blocking socket for at most the time left.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "core/result.h"
#include "os/unique_fd.h"

namespace memvisor::nodejs {

using Deadline = std::chrono::steady_clock::time_point;

class DeadlineSocket {
 public:
  // `address`: a numeric IPv4 or IPv6 address ("127.0.0.1", "::1").
  static Result<DeadlineSocket> connect(const std::string& address, uint16_t port,
                                        Deadline deadline);

  Status send_all(std::string_view data, Deadline deadline);
  // Appends what arrives (at most `max` bytes) to `out`; 0 at end of stream. An error when the
  // deadline passes first.
  Result<size_t> receive(std::string& out, size_t max, Deadline deadline);
  // Waits at most until `until` for bytes to read: false when none came (not an error).
  Result<bool> wait_readable(Deadline until);
  void close() { fd_.reset(); }

 private:
  explicit DeadlineSocket(UniqueFd fd) : fd_(std::move(fd)) {}
  UniqueFd fd_;
};

// Milliseconds from now to `deadline`, at least 0, for poll().
int millis_until(Deadline deadline);

}  // namespace memvisor::nodejs
