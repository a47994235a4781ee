#include "core/time_format.h"

#include <fmt/format.h>

#include <cmath>

namespace memvisor {

std::string format_rfc3339(WallTime time) {
  using namespace std::chrono;
  const auto ms = time_point_cast<milliseconds>(time);
  const auto days = floor<std::chrono::days>(ms);
  const year_month_day date{days};
  const hh_mm_ss clock{ms - days};
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", static_cast<int>(date.year()),
                     static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()),
                     clock.hours().count(), clock.minutes().count(), clock.seconds().count(),
                     clock.subseconds().count());
}

double to_unix_seconds(WallTime time) {
  using namespace std::chrono;
  return duration_cast<duration<double>>(time.time_since_epoch()).count();
}

WallTime from_unix_seconds(double seconds) {
  using namespace std::chrono;
  // Whole and fractional seconds apart: seconds * 1e9 in one double would lose the milliseconds.
  const double whole = std::floor(seconds);
  const auto fraction = round<system_clock::duration>(duration<double>(seconds - whole));
  return WallTime(std::chrono::seconds(static_cast<int64_t>(whole)) + fraction);
}

}  // namespace memvisor
