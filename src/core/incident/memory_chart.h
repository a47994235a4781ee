// The memory chart of an incident bundle as SVG: time since the process started on x, bytes on y
// with human units, one line per memory kind, the rule thresholds as labelled dashed lines.
// Pure: the data in, the SVG text out.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace memvisor {

struct ChartSeries {
  std::string name;                               // "pss"
  std::string color;                              // any SVG colour: "#1f77b4"
  std::vector<std::pair<double, double>> points;  // (seconds since start, bytes), time ascending
};

struct ChartThreshold {
  std::string label;  // "critical"
  uint64_t bytes = 0;
  std::string color;
};

struct ChartInput {
  std::string title;     // "web.1 — leak"
  std::string subtitle;  // "2026-11-22 19:30:12 UTC, pid 4242, generation 3"
  std::vector<ChartSeries> series;
  std::vector<ChartThreshold> thresholds;
};

std::string render_memory_chart(const ChartInput& input);

// Tick positions inside [min, max] at a round step giving about `target` ticks: for bytes 1, 2 or
// 5 times a power of ten of the axis's binary unit, for time a round number of seconds, minutes,
// hours or days.
std::vector<double> time_ticks(double min_s, double max_s, int target);
std::vector<double> byte_ticks(double max_bytes, int target);

// "0", "30s", "2m", "1m30s", "1h", as tick labels.
std::string time_tick_label(double seconds);
// "0", "512 KiB", "1.5 GiB": the unit chosen for the whole axis, so labels line up.
std::string byte_tick_label(double bytes, double step);

}  // namespace memvisor
