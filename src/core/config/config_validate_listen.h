// The checks on a service's listening sockets (`listen`, `listen_backlog`, `listen_mode`,
// `listen_owner`), shared by the TOML reader, the flags and the JSON hand-off.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/config/config.h"
#include "core/config/config_validate.h"
#include "core/result.h"

namespace memvisor {

inline constexpr size_t kMaxListenSockets = 64;

std::optional<std::string> check_listen_count(size_t count);
std::optional<std::string> check_listen_backlog(int64_t backlog);  // 1 to 65535
std::optional<std::string> check_listen_mode(int64_t mode);        // 0 to 0777
// "user" or "user:group" (names or numbers).
std::optional<std::string> check_listen_owner(std::string_view owner);
// An octal file mode as text: "0660", "660" or "0o660".
Result<uint32_t> parse_listen_mode(std::string_view text);
// "0660".
std::string format_listen_mode(uint32_t mode);

// An address a service lists twice, or that a service before it in the config already has: the
// index in `listen` and what it collides with. The first `others_count` of `services` are
// checked against.
struct ListenConflict {
  size_t index;
  std::string what;
};
std::optional<ListenConflict> find_listen_conflict(const ServiceConfig& service,
                                                   const std::vector<ServiceConfig>& services,
                                                   size_t others_count);

// "listen[I]: what".
ConfigProblem listen_problem(const ListenConflict& conflict);

// The first problem with the listen keys of one service (fields relative to the service).
std::optional<ConfigProblem> find_listen_problem(const ServiceConfig& service);

}  // namespace memvisor
