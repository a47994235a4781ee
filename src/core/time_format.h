// Wall-clock formatting for events and reports; the time is always an argument.
#pragma once

#include <chrono>
#include <string>

namespace memvisor {

using WallTime = std::chrono::system_clock::time_point;

// RFC 3339 in UTC with milliseconds: "2026-11-22T16:40:01.123Z".
std::string format_rfc3339(WallTime time);
// Seconds since the Unix epoch, with fraction.
double to_unix_seconds(WallTime time);
WallTime from_unix_seconds(double seconds);

}  // namespace memvisor
