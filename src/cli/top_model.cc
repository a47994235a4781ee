// See top_model.h.
#include "cli/top_model.h"

#include "core/observe/json_fields.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <tuple>

#include "core/observe/event.h"
#include "core/text_table.h"
#include "core/units.h"

namespace memvisor {
namespace {

std::optional<double> top_number(const nlohmann::json& object, const char* key) {
  if (!object.is_object()) return std::nullopt;
  auto found = object.find(key);
  if (found == object.end() || !found->is_number()) return std::nullopt;
  return found->get<double>();
}

const nlohmann::json* find_series(const nlohmann::json& series, const std::string& service,
                                  int instance, int generation, int child) {
  if (!series.is_array()) return nullptr;
  for (const auto& unit : series) {
    if (unit.value("service", "") == service && unit.value("instance", 0) == instance &&
        unit.value("child", 0) == child &&
        (child != 0 || unit.value("generation", 0) == generation)) {
      return &unit;
    }
  }
  return nullptr;
}

// A size rule in the series' metric, or, when the rule reads another metric, the value of that
// metric the status reply gave: "% of limit" is always the limit rule's own comparison.
void fill_from_series(TopRow& row, const nlohmann::json* unit, const nlohmann::json& memory) {
  if (unit == nullptr) {
    // No series (an older supervisor, or not sampled yet): the status reply's figures.
    if (row.metric.empty()) row.metric = "pss";
    row.memory = top_number(memory, row.metric.c_str());
    row.slope_per_hour = top_number(memory, "leak_slope_bytes_per_hour");
    return;
  }
  row.metric = unit->value("metric", "pss");
  for (const auto& v : unit->value("values", nlohmann::json::array())) {
    if (v.is_number()) row.series.push_back(v.get<double>());
  }
  if (!row.series.empty()) {
    row.memory = row.series.back();
  } else {
    row.memory = top_number(memory, row.metric.c_str());
  }
  auto size_in_metric = [&](const char* rule) -> std::optional<double> {
    const auto size = top_number(*unit, rule);
    if (!size) return std::nullopt;
    const std::string other = unit->value(std::string(rule) + "_metric", "");
    if (other.empty() || !row.memory) return size;
    // The rule reads another metric: scale its size onto this one by the two latest values.
    const auto theirs = top_number(memory, other.c_str());
    if (!theirs || *theirs <= 0) return std::nullopt;
    return *size * *row.memory / *theirs;
  };
  row.limit = size_in_metric("limit");
  row.critical = size_in_metric("critical");
  row.slope_per_hour = top_number(*unit, "leak_slope_bytes_per_hour");
}

auto name_order(const TopRow& row) {
  return std::tie(row.service, row.instance, row.child);
}

}  // namespace

std::vector<TopRow> build_top_rows(const nlohmann::json& status, const nlohmann::json& series) {
  std::vector<TopRow> rows;
  if (!status.is_object()) return rows;
  for (const auto& record : status.value("instances", nlohmann::json::array())) {
    TopRow row;
    row.service = record.value("service", "?");
    row.instance = record.value("instance", 0);
    row.unit = fmt::format("{}.{}", row.service, row.instance);
    row.state = record.value("state", "?");
    if (record.value("role", "") == "replacement") row.state += "*";
    row.pid = record.value("pid", 0);
    row.uptime_s = top_number(record, "uptime_s");
    row.restarts = record.value("restarts", 0);
    // Requests as the worker library counts them; unknown for a worker that never connected.
    if (record.value("requests", int64_t{0}) > 0 ||
        (record.contains("worker") && record["worker"].is_object())) {
      row.requests = record.value("requests", int64_t{0});
    }
    const nlohmann::json memory = record.value("memory", nlohmann::json());
    fill_from_series(
        row, find_series(series, row.service, row.instance, record.value("generation", 0), 0),
        memory);
    if (row.pid == 0) row.memory.reset();
    const TopRow parent = row;
    rows.push_back(std::move(row));
    for (const auto& child : record.value("children", nlohmann::json::array())) {
      TopRow c;
      c.service = parent.service;
      c.instance = parent.instance;
      c.child = child.value("pid", 0);
      c.unit = child.value("unit", fmt::format("{}/{}", parent.unit, c.child));
      c.state = "child";
      c.pid = c.child;
      c.uptime_s = top_number(child, "uptime_s");
      c.metric = parent.metric;
      fill_from_series(c, find_series(series, c.service, c.instance, 0, c.child),
                       child.value("memory", nlohmann::json()));
      rows.push_back(std::move(c));
    }
  }
  return rows;
}

TopSort next_sort(TopSort sort) {
  switch (sort) {
    case TopSort::memory:
      return TopSort::growth;
    case TopSort::growth:
      return TopSort::name;
    case TopSort::name:
      return TopSort::restarts;
    case TopSort::restarts:
      return TopSort::memory;
  }
  return TopSort::memory;
}

TopSort previous_sort(TopSort sort) {
  return next_sort(next_sort(next_sort(sort)));
}

std::string_view sort_name(TopSort sort) {
  switch (sort) {
    case TopSort::memory:
      return "memory";
    case TopSort::growth:
      return "growth";
    case TopSort::name:
      return "name";
    case TopSort::restarts:
      return "restarts";
  }
  return "memory";
}

void sort_top_rows(std::vector<TopRow>& rows, TopSort sort) {
  auto value = [sort](const TopRow& row) -> std::optional<double> {
    switch (sort) {
      case TopSort::memory:
        return row.memory;
      case TopSort::growth:
        return row.slope_per_hour;
      case TopSort::restarts:
        return static_cast<double>(row.restarts);
      case TopSort::name:
        return std::nullopt;
    }
    return std::nullopt;
  };
  std::stable_sort(rows.begin(), rows.end(), [&](const TopRow& a, const TopRow& b) {
    if (sort != TopSort::name) {
      const auto va = value(a), vb = value(b);
      if (va.has_value() != vb.has_value()) return va.has_value();
      if (va && *va != *vb) return *va > *vb;
    }
    return name_order(a) < name_order(b);
  });
}

void filter_top_rows(std::vector<TopRow>& rows, std::string_view service) {
  if (service.empty()) return;
  std::erase_if(rows, [&](const TopRow& row) { return row.service != service; });
}

std::string sparkline(const std::vector<double>& values, size_t width, bool utf8) {
  static constexpr std::array<std::string_view, 8> kBlocks{"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
  static constexpr std::string_view kAscii = "_.-=+*#%";
  // More values than characters: each character is the mean of its share of them, so a longer
  // history fits; fewer: one each, right-aligned.
  std::vector<double> shown;
  if (values.size() > width) {
    for (size_t i = 0; i < width; ++i) {
      const size_t from = i * values.size() / width, to = (i + 1) * values.size() / width;
      double sum = 0;
      for (size_t j = from; j < to; ++j) sum += values[j];
      shown.push_back(sum / static_cast<double>(to - from));
    }
  } else {
    shown = values;
  }
  std::string out(width - shown.size(), ' ');
  if (shown.empty()) return out;
  const auto [lo, hi] = std::minmax_element(shown.begin(), shown.end());
  // At least a tenth of the largest value: a wobble of a few percent (PSS moving as a sibling
  // shares or unshares pages) stays a small bump, not a cliff; a real trend fills the height.
  const double span = std::max(*hi - *lo, std::abs(*hi) * 0.1);
  for (const double v : shown) {
    size_t level = 0;
    if (span > 0 && std::isfinite(span)) {
      level = std::min<size_t>(static_cast<size_t>(std::lround((v - *lo) / span * 7)), 7);
    }
    if (utf8) {
      out += kBlocks[level];
    } else {
      out += kAscii[level];
    }
  }
  return out;
}

std::string memory_cell(const TopRow& row) {
  if (!row.memory) return "-";
  if (row.metric.starts_with("gauge:")) {
    const double v = *row.memory;
    return std::abs(v - std::round(v)) < 1e-9 && std::abs(v) < 1e15
               ? fmt::format("{}", static_cast<int64_t>(std::llround(v)))
               : fmt::format("{:.4g}", v);
  }
  return format_size(static_cast<uint64_t>(std::llround(std::max(0.0, *row.memory))));
}

std::string percent_cell(std::optional<double> value, std::optional<double> of) {
  if (!value || !of || *of <= 0) return "-";
  return fmt::format("{:.0f}%", *value / *of * 100);
}

std::string slope_cell(const TopRow& row) {
  if (!row.slope_per_hour) return "-";
  const double slope = *row.slope_per_hour;
  const auto amount = static_cast<uint64_t>(std::llround(std::abs(slope)));
  // The sign matters: a floor going down is no leak.
  return std::string(slope < 0 ? "-" : "+") + format_size(amount) + "/h";
}

std::vector<std::string> top_table_lines(const std::vector<TopRow>& rows, bool utf8) {
  TextTable table({"UNIT", "STATE", "PID", "UPTIME", "MEMORY", "METRIC", "RECENT", "%LIMIT",
                   "%CRIT", "LEAK", "REQS", "RESTARTS"});
  for (const TopRow& row : rows) {
    std::string uptime = "-";
    if (row.uptime_s && row.pid != 0) {
      uptime = format_duration(Millis(static_cast<int64_t>(*row.uptime_s * 1000)));
    }
    table.add_row({row.unit, row.state, row.pid == 0 ? "-" : std::to_string(row.pid), uptime,
                   memory_cell(row), row.metric, sparkline(row.series, kSparklineWidth, utf8),
                   percent_cell(row.memory, row.limit), percent_cell(row.memory, row.critical),
                   slope_cell(row), row.requests ? std::to_string(*row.requests) : "-",
                   row.child != 0 ? "-" : std::to_string(row.restarts)});
  }
  std::vector<std::string> lines;
  const std::string text = table.render();
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

std::string totals_line(const nlohmann::json& status, const std::vector<TopRow>& rows) {
  int services = 0, instances = 0, ready = 0;
  for (const auto& service : status.value("services", nlohmann::json::array())) {
    ++services;
    instances += service.value("instances", 0);
    ready += service.value("ready", 0);
  }
  // Bytes are summed per metric: PSS and RSS do not add up to anything meaningful together.
  std::map<std::string, double> by_metric;
  int restarts = 0, children = 0;
  for (const TopRow& row : rows) {
    // A pre-fork child's memory is its own, not its master's: it adds to the total (the total
    // left it out); its restarts are its master's business.
    if (row.child != 0) ++children;
    if (row.child == 0) restarts += row.restarts;
    if (row.memory && !row.metric.starts_with("gauge:")) by_metric[row.metric] += *row.memory;
  }
  std::string memory;
  for (const auto& [metric, bytes] : by_metric) {
    if (!memory.empty()) memory += " + ";
    memory += format_size(static_cast<uint64_t>(std::llround(bytes))) + " " + metric;
  }
  std::string line = fmt::format("{} service{}, {}/{} ready", services, services == 1 ? "" : "s",
                                 ready, instances);
  if (children > 0) line += fmt::format(", {} pre-fork children", children);
  if (!memory.empty()) line += ", " + memory;
  return line + fmt::format(", {} restart{}", restarts, restarts == 1 ? "" : "s");
}

std::vector<std::string> event_lines(std::string_view text, size_t n) {
  std::vector<std::string> lines;
  size_t end = text.size();
  while (lines.size() < n && end > 0) {
    size_t start = text.rfind('\n', end - 1);
    start = start == std::string_view::npos ? 0 : start + 1;
    const std::string_view line = text.substr(start, end - start);
    end = start == 0 ? 0 : start - 1;
    if (line.empty()) continue;
    auto json = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (!json.is_object()) continue;  // a partial first line of the tail, or garbage
    const std::string ts = string_field(json, "ts");
    // "2026-12-05T15:10:45.123Z" → "15:10:45" (UTC, as the file has it).
    const std::string time = ts.size() >= 19 ? ts.substr(11, 8) : ts;
    lines.push_back(time + "  " + human_line(event_from_json(json)));
  }
  std::reverse(lines.begin(), lines.end());
  return lines;
}

std::string render_plain(const std::vector<std::string>& header,
                         const std::vector<std::string>& table,
                         const std::vector<std::string>& events) {
  std::string out;
  for (const auto& line : header) out += line + "\n";
  out += "\n";
  for (const auto& line : table) out += line + "\n";
  out += "\nLatest events:\n";
  if (events.empty()) out += "  (none)\n";
  for (const auto& line : events) out += "  " + line + "\n";
  return out;
}

}  // namespace memvisor
