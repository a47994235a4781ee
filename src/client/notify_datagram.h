// One datagram to NOTIFY_SOCKET in systemd's format, as sd_notify(3) sends it: never blocks,
// never raises SIGPIPE, silently nothing when the variable is unset or the socket is gone.
#pragma once

#include <string_view>

namespace memvisor::client {

void notify_datagram(std::string_view message) noexcept;

}  // namespace memvisor::client
