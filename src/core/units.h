// Sizes, durations, rates and signals as people write them in config files and read them in
// messages: "1.5GiB", "1h30m", "10MiB/h", "SIGINT". Pure text functions, no syscalls.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/config/config.h"
#include "core/result.h"

namespace memvisor {

// The longest duration parse_duration accepts: 3650d. Longer values are mistakes, and keeping
// them small means now + duration can never overflow a nanosecond clock.
inline constexpr Millis kMaxDuration{3650LL * 24 * 3600 * 1000};

// "500MiB", "2GB", "1.5GiB", "4096" (bytes), "100B". A number, then directly (no space) one of
// B KiB MiB GiB TiB (powers of 1024) or kB KB MB GB TB (powers of 1000). Fractions are allowed
// and a fractional byte count is rounded down. Units are case-sensitive: "mb" is rejected.
Result<uint64_t> parse_size(std::string_view text);

// "100ms", "10s", "5m", "1h", "2d", "1.5s", "1h30m" (units largest first, each at most once).
// "min" is accepted for "m". A bare number is only accepted for "0". At most kMaxDuration;
// fractions of a millisecond are rounded down.
Result<Millis> parse_duration(std::string_view text);

// A growth rate as bytes per hour: "10MiB/h", "1MiB/min", "100KiB/s", "1GB/d" (a size as for
// parse_size, a slash, then one of s, min, m, h, d). Rounded down.
Result<uint64_t> parse_rate(std::string_view text);

// "0 B", "512 B", "1.5 KiB", "230 MiB", "1.25 GiB": three significant digits, binary units.
std::string format_size(uint64_t bytes);

// Exact, in the config's own spelling, so that parse_size reads it back: "500MiB", "1.5GiB",
// "2GB", "1000001B". The shortest exact form with at most three decimals; on a tie, binary units
// win, then smaller ones ("1280MiB", not "1.25GiB").
std::string format_size_exact(uint64_t bytes);

// Compact and human, at most two units, rounded down: "350ms", "1.5s", "12s", "5m3s", "2h5m",
// "3d4h". For status lines; use format_duration_exact where the value must be exact.
std::string format_duration(Millis duration);

// Every unit, so that parse_duration reads it back: "0", "1h30m", "2m0s5ms" → "2m5ms".
std::string format_duration_exact(Millis duration);

// "SIGINT", "INT", "sigint" or "2" (1 to 64) → the signal number.
std::optional<int> parse_signal(std::string_view text);

// "SIGINT", or "signal 40" for a number without a standard name.
std::string signal_name(int signo);

}  // namespace memvisor
