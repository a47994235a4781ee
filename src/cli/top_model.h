// `memvisor top`'s pure part: the rows (one per instance process and pre-fork child) built from
// the `status` and `series` replies, their sort orders and filter, the sparkline and the cells,
// and the plain-text snapshot. No terminal and no socket here, so all of it is unit-tested;
// top_command.cc draws it with ncurses or prints it.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace memvisor {

struct TopRow {
  std::string service;
  int instance = 0;
  int child = 0;      // a pre-fork child's pid; 0: the instance's own process
  std::string unit;   // "web.1", "web.1/4242"
  std::string state;  // "running", …, "child" for a pre-fork child
  int pid = 0;
  std::optional<double> uptime_s;
  std::string metric;            // the service's metric: "pss", "gauge:queue_depth"
  std::optional<double> memory;  // its latest value (bytes, or the gauge's number)
  std::vector<double> series;    // recent values, oldest first
  std::optional<double> limit;   // the limit rule's size, in the series' metric
  std::optional<double> critical;
  std::optional<double> slope_per_hour;  // the leak rule's floor slope, once judged
  std::optional<int64_t> requests;       // when a worker library reported
  int restarts = 0;
};

// The rows, in the status reply's (configuration) order, each instance followed by its
// children. `series` is the `series` reply's array (may be empty: no sparklines then).
std::vector<TopRow> build_top_rows(const nlohmann::json& status, const nlohmann::json& series);

enum class TopSort { memory, growth, name, restarts };
TopSort next_sort(TopSort sort);
TopSort previous_sort(TopSort sort);
std::string_view sort_name(TopSort sort);  // "memory", "growth", "name", "restarts"
// Largest first (memory, growth, restarts), units without a value last; name: service, instance
// and child ascending, which is also every other order's tie-break.
void sort_top_rows(std::vector<TopRow>& rows, TopSort sort);
// Keeps the rows of `service` (exact name; empty: keeps all).
void filter_top_rows(std::vector<TopRow>& rows, std::string_view service);

// `width` characters of bar heights, scaled between the shown values' minimum and maximum (a
// span of at least a tenth of the maximum): the shape is what matters at a glance. More values
// than characters: each character is the mean of its share; fewer: one each, blank on the left.
// UTF-8 block characters ▁▂▃▄▅▆▇█, or ASCII "_.-=+*#%" when the terminal cannot show them. A
// flat series is a flat low line.
std::string sparkline(const std::vector<double>& values, size_t width, bool utf8);

// The cells: "52.1 MiB" (a gauge: "1234" or "12.5"), "62%", "+1.2 MiB/h", "-" when unknown.
std::string memory_cell(const TopRow& row);
std::string percent_cell(std::optional<double> value, std::optional<double> of);
std::string slope_cell(const TopRow& row);

// The table's columns, a header and one line per row, as they appear on screen and in the plain
// snapshot (aligned, no escape codes).
inline constexpr size_t kSparklineWidth = 24;
inline constexpr int kSparklinePoints = 120;  // samples asked for per unit
std::vector<std::string> top_table_lines(const std::vector<TopRow>& rows, bool utf8);

// Totals for the header: "2 services, 3/3 running, 152 MiB (pss), 4 restarts".
std::string totals_line(const nlohmann::json& status, const std::vector<TopRow>& rows);

// The last `n` lines of `text` (events.jsonl's tail), each an event rendered as `memvisor events`
// does ("15:10:45  web.1 restarted: …"); unreadable lines are skipped.
std::vector<std::string> event_lines(std::string_view text, size_t n);

// The plain snapshot: header lines, blank, the table, blank, "Latest events:" and the events.
std::string render_plain(const std::vector<std::string>& header,
                         const std::vector<std::string>& table,
                         const std::vector<std::string>& events);

}  // namespace memvisor
