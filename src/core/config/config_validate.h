// The checks on a Config that do not depend on where it came from: parse_config runs the same
// per-value checks (adding line:column) and the command-line default runs validate_config.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/config/config.h"
#include "core/result.h"

namespace memvisor {

inline constexpr int64_t kMaxInstances = 1000;
inline constexpr size_t kMaxServiceNameLength = 64;

// One problem with a config: which field, and what was expected there.
struct ConfigProblem {
  std::string field;  // dotted path, "service.web.instances"; empty for the config as a whole
  std::string what;   // "expected a positive integer, got 0"

  std::string describe() const;  // "service.web.instances: expected a positive integer, got 0"
};

// A key as it appears in a dotted path: bare when TOML allows it, else quoted: web, "my app".
std::string path_key(std::string_view key);
// "service.web", or service."my app".
std::string service_path(std::string_view name);

// "expected a positive integer, got -3".
std::string expected_positive_integer(int64_t value);

// Per-value checks. Each says what is wrong, without the field name, or returns nothing.
std::optional<std::string> check_service_name(std::string_view name);
std::optional<std::string> check_instances(int64_t instances);
std::optional<std::string> check_circuit_failures(int64_t failures);
std::optional<std::string> check_incidents_keep(int64_t keep);  // 1 to 100000
std::optional<std::string> check_log_keep(int64_t keep);        // rotated logs kept: 1 to 1000
std::optional<std::string> check_oom_score_adj(int64_t value);  // -1000 to 1000
std::optional<std::string> check_restart_backoff(double backoff);
std::optional<std::string> check_signal_number(int64_t signo);
std::optional<std::string> check_text(std::string_view text);  // no NUL: exec would cut it
std::optional<std::string> check_env_name(std::string_view name);
std::optional<std::string> check_command_length(size_t argc);
std::optional<std::string> check_program(std::string_view argv0);
// field is the key in a service table ("stop_timeout"); it decides whether zero is allowed.
std::optional<std::string> check_duration(std::string_view field, Millis value);

// Checks between fields of one service whose fields each passed their own checks. The problem's
// field is relative to the service: "restart_delay_max", or for sizes out of order the higher
// rule ("critical" when warn is above it).
std::optional<ConfigProblem> check_service_together(const ServiceConfig& service);

// The first problem with the whole config, services in order, fields in declaration order.
std::optional<ConfigProblem> find_config_problem(const Config& config);
Status validate_config(const Config& config);

// One line for `memvisor check`: "ok: web.toml: 2 services, 5 instances (web ×3, jobs ×2)", the
// rules in brackets after a service ("web ×3 [limit 500MiB, age 6h]"), then ", total 4GiB".
std::string describe_config(const Config& config);

}  // namespace memvisor
