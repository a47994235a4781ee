#include "core/rules/trace_csv.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>
#include <limits>

namespace memvisor {
namespace {

std::vector<std::string_view> split(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t start = 0;
  for (;;) {
    const size_t comma = line.find(',', start);
    fields.push_back(line.substr(start, comma - start));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  for (auto& f : fields) {
    while (!f.empty() && (f.front() == ' ' || f.front() == '\t')) f.remove_prefix(1);
    while (!f.empty() && (f.back() == ' ' || f.back() == '\t' || f.back() == '\r'))
      f.remove_suffix(1);
  }
  return fields;
}

}  // namespace

int Trace::column(std::string_view name) const {
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i] == name) return static_cast<int>(i);
  }
  return -1;
}

Result<Trace> parse_trace_csv(std::string_view text, const std::string& source) {
  Trace trace;
  size_t line_number = 0;
  bool header = true;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end + 1);
    ++line_number;
    if (line.empty() || line == "\r" || line.front() == '#') continue;
    const auto fields = split(line);
    if (header) {
      header = false;
      if (fields.size() < 2 || fields[0] != "t_s") {
        return Error{
            fmt::format("{}:{}: expected a header starting with t_s and a value column, "
                        "such as t_s,bytes or t_s,rss,pss,uss,swap",
                        source, line_number)};
      }
      for (size_t i = 1; i < fields.size(); ++i) trace.columns.emplace_back(fields[i]);
      continue;
    }
    if (fields.size() != trace.columns.size() + 1) {
      return Error{fmt::format("{}:{}: expected {} values, got {}", source, line_number,
                               trace.columns.size() + 1, fields.size())};
    }
    std::vector<double> row;
    double t = 0;
    for (size_t i = 0; i < fields.size(); ++i) {
      double value = 0;
      // A recorded gauge has no value in the rows where it was not fresh (or not reported yet).
      if (i > 0 && fields[i].empty() && trace.columns[i - 1].starts_with("gauge:")) {
        row.push_back(std::numeric_limits<double>::quiet_NaN());
        continue;
      }
      const auto [ptr, ec] =
          std::from_chars(fields[i].data(), fields[i].data() + fields[i].size(), value);
      if (ec != std::errc{} || ptr != fields[i].data() + fields[i].size() || fields[i].empty()) {
        return Error{fmt::format("{}:{}: expected a number, got '{}{}'", source, line_number,
                                 fields[i].substr(0, 40), fields[i].size() > 40 ? "..." : "")};
      }
      // from_chars takes nan, inf and 1e300: a time must be finite, a size a byte count (its
      // conversion to an integer is undefined past 2^64), a gauge any finite number.
      const bool gauge = i > 0 && trace.columns[i - 1].starts_with("gauge:");
      if (!std::isfinite(value) || (i > 0 && !gauge && (value < 0 || value >= 0x1p64))) {
        return Error{fmt::format("{}:{}: {}: expected {}, got '{}'", source, line_number,
                                 i == 0 ? std::string("t_s") : trace.columns[i - 1],
                                 i == 0  ? "a finite time in seconds"
                                 : gauge ? "a finite number"
                                         : "a size in bytes, from 0 to 2^64",
                                 fields[i].substr(0, 40))};
      }
      if (i == 0) {
        t = value;
      } else {
        row.push_back(value);
      }
    }
    if (!trace.t_s.empty() && t < trace.t_s.back()) {
      return Error{fmt::format("{}:{}: time goes backwards ({} after {})", source, line_number, t,
                               trace.t_s.back())};
    }
    trace.t_s.push_back(t);
    trace.values.push_back(std::move(row));
  }
  if (header) return Error{fmt::format("{}: empty trace", source)};
  if (trace.t_s.empty()) return Error{fmt::format("{}: no samples after the header", source)};
  return trace;
}

}  // namespace memvisor
