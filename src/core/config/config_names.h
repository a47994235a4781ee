// The spellings of the config enums, shared by the TOML reader, the JSON hand-off and messages.
#pragma once

#include <array>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "core/config/config.h"

namespace memvisor {

template <class E>
struct EnumName {
  std::string_view name;
  E value;
};

inline constexpr std::array<EnumName<RestartPolicy>, 3> kRestartPolicyNames{{
    {"always", RestartPolicy::always},
    {"on-failure", RestartPolicy::on_failure},
    {"never", RestartPolicy::never},
}};
inline constexpr std::array<EnumName<ReadyMode>, 2> kReadyModeNames{{
    {"immediate", ReadyMode::immediate},
    {"notify", ReadyMode::notify},
}};
inline constexpr std::array<EnumName<OutputMode>, 2> kOutputModeNames{{
    {"prefix", OutputMode::prefix},
    {"file", OutputMode::file},
}};
// The memory kinds; a gauge is spelled "gauge:NAME" (parse_metric, metric_name).
inline constexpr std::array<EnumName<MetricKind>, 6> kMemoryMetricNames{{
    {"pss", MetricKind::pss},
    {"rss", MetricKind::rss},
    {"uss", MetricKind::uss},
    {"anon", MetricKind::anon},
    {"swap", MetricKind::swap},
    {"cgroup", MetricKind::cgroup},
}};
inline constexpr std::string_view kGaugePrefix = "gauge:";
inline constexpr std::array<EnumName<LeakAction>, 2> kLeakActionNames{{
    {"recycle", LeakAction::recycle},
    {"alert", LeakAction::alert},
}};
// [supervisor] pressure: action and pick.
inline constexpr std::array<EnumName<PressureAction>, 2> kPressureActionNames{{
    {"recycle", PressureAction::recycle},
    {"alert", PressureAction::alert},
}};
inline constexpr std::array<EnumName<PressurePick>, 2> kPressurePickNames{{
    {"largest", PressurePick::largest},
    {"fastest", PressurePick::fastest},
}};

// The duration fields of a service, by their key in the config file.
inline constexpr std::array<std::pair<std::string_view, Millis ServiceConfig::*>, 9>
    kServiceDurations{{
        {"restart_delay", &ServiceConfig::restart_delay},
        {"restart_delay_max", &ServiceConfig::restart_delay_max},
        {"min_uptime", &ServiceConfig::min_uptime},
        {"circuit_cooldown", &ServiceConfig::circuit_cooldown},
        {"stop_timeout", &ServiceConfig::stop_timeout},
        {"kill_timeout", &ServiceConfig::kill_timeout},
        {"startup_timeout", &ServiceConfig::startup_timeout},
        {"watchdog", &ServiceConfig::watchdog},
        {"prefork_timeout", &ServiceConfig::prefork_timeout},
    }};

template <class E, size_t N>
std::optional<E> enum_from_name(const std::array<EnumName<E>, N>& names, std::string_view name) {
  for (const auto& entry : names) {
    if (entry.name == name) return entry.value;
  }
  return std::nullopt;
}

template <class E, size_t N>
std::string_view enum_name(const std::array<EnumName<E>, N>& names, E value) {
  for (const auto& entry : names) {
    if (entry.value == value) return entry.name;
  }
  return "?";
}

// "always, on-failure, never"
template <class E, size_t N>
std::string enum_choices(const std::array<EnumName<E>, N>& names) {
  std::string out;
  for (const auto& entry : names) {
    if (!out.empty()) out += ", ";
    out += entry.name;
  }
  return out;
}

}  // namespace memvisor
