// A worker's status text (STATUS= on the notify socket, {"type":"status"} on the worker socket)
// as memvisor keeps it: shown by `status`, `top`, the dashboard and /status to whoever runs them,
// often root, while the worker may run as another user. Control characters become "?": an escape
// sequence in it would otherwise reach the operator's terminal (clear the screen, set its title,
// rewrite what `status` shows).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace memvisor {

inline constexpr size_t kMaxStatusText = 1024;

// At most `max` bytes, never cutting a UTF-8 sequence in half (status is dumped as JSON later).
std::string truncate_utf8(std::string text, size_t max);

// `text` cut to `max` bytes as truncate_utf8 does, with every C0 control (tab included), DEL and
// C1 control (U+0080 to U+009F, which some terminals obey too) replaced by "?".
std::string status_text(std::string_view text, size_t max = kMaxStatusText);

}  // namespace memvisor
