#include "core/protocol/notify_protocol.h"

#include "core/protocol/status_text.h"

#include <charconv>
#include <cstdint>

namespace memvisor {

NotifyFields parse_notify_message(std::string_view text) {
  NotifyFields fields;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);

    const size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    const std::string_view key = line.substr(0, eq);
    const std::string_view value = line.substr(eq + 1);
    if (key == "READY") {
      fields.ready = value == "1";
    } else if (key == "WATCHDOG") {
      fields.watchdog = value == "1";
    } else if (key == "STOPPING") {
      fields.stopping = value == "1";
    } else if (key == "RELOADING") {
      fields.reloading = value == "1";
    } else if (key == "STATUS") {
      fields.status = status_text(value);
    } else if (key == "MAINPID") {
      pid_t pid = 0;
      const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), pid);
      if (ec == std::errc{} && ptr == value.data() + value.size() && pid > 0) fields.main_pid = pid;
    }
  }
  return fields;
}

std::optional<std::chrono::microseconds> service_watchdog_timeout(const char* usec, const char* pid,
                                                                  pid_t self) {
  if (usec == nullptr) return std::nullopt;
  const std::string_view usec_text(usec);
  uint64_t micros = 0;
  auto [end, ec] = std::from_chars(usec_text.data(), usec_text.data() + usec_text.size(), micros);
  if (ec != std::errc() || end != usec_text.data() + usec_text.size() || micros == 0 ||
      micros > uint64_t{1} << 62) {
    return std::nullopt;
  }
  if (pid != nullptr) {
    const std::string_view pid_text(pid);
    pid_t target = 0;
    auto [pid_end, pid_ec] =
        std::from_chars(pid_text.data(), pid_text.data() + pid_text.size(), target);
    if (pid_ec != std::errc() || pid_end != pid_text.data() + pid_text.size() || target != self) {
      return std::nullopt;
    }
  }
  return std::chrono::microseconds(static_cast<std::chrono::microseconds::rep>(micros));
}

}  // namespace memvisor
