// Memory traces as CSV: a header (`t_s,bytes` or `t_s,rss,pss,uss,swap`, maybe more columns such
// as `gauge:heap_used_bytes`), then one row per sample. A `gauge:` column's cell may be empty (no
// fresh value then): it reads as NaN.
// Pure: parsing takes the text, writing returns it.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace memvisor {

struct Trace {
  std::vector<std::string> columns;  // without t_s
  std::vector<double> t_s;
  std::vector<std::vector<double>> values;  // values[row][column]

  // Index of `name` in columns, or -1.
  int column(std::string_view name) const;
};

// Errors name the line: "trace.csv:17: expected 3 numbers, got 'x'". Times must not decrease.
Result<Trace> parse_trace_csv(std::string_view text, const std::string& source);

}  // namespace memvisor
