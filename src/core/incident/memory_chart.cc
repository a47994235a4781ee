#include "core/incident/memory_chart.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cmath>

#include "core/units.h"

namespace memvisor {
namespace {

constexpr double kWidth = 960, kHeight = 520;
constexpr double kLeft = 90, kRight = 190, kTop = 86, kBottom = 64;
constexpr double kPlotW = kWidth - kLeft - kRight, kPlotH = kHeight - kTop - kBottom;

std::string escape(std::string_view text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        // Control characters are not allowed in XML 1.0.
        if (static_cast<unsigned char>(c) >= 0x20 || c == '\t') out.push_back(c);
    }
  }
  return out;
}

// 1024^k: the binary unit the whole y axis is written in.
double byte_unit(double max_bytes) {
  double unit = 1;
  while (unit < static_cast<double>(uint64_t{1} << 50) && max_bytes >= unit * 1024) unit *= 1024;
  return unit;
}

// 1, 2 or 5 times a power of ten, near `wanted`: a little below it is fine (a few more ticks
// read better than half as many).
double nice_step(double wanted) {
  if (wanted <= 0) return 1;
  const double raw = wanted * 0.75;
  const double power = std::pow(10.0, std::floor(std::log10(raw)));
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (raw <= m * power) return m * power;
  }
  return 10 * power;
}

}  // namespace

std::vector<double> time_ticks(double min_s, double max_s, int target) {
  std::vector<double> ticks;
  if (!(max_s > min_s) || target < 1) return ticks;
  const double raw = (max_s - min_s) / target;
  static constexpr std::array<double, 24> kSteps{
      0.1, 0.2, 0.5, 1,    2,    5,    10,   15,    20,    30,    60,    120,
      300, 600, 900, 1200, 1800, 3600, 7200, 10800, 21600, 43200, 86400, 172800};
  double step = kSteps.back();
  for (double s : kSteps) {
    if (s >= raw) {
      step = s;
      break;
    }
  }
  if (raw > kSteps.back()) step = std::ceil(raw / 86400) * 86400;
  for (double t = std::ceil(min_s / step) * step; t <= max_s + step * 1e-9; t += step) {
    ticks.push_back(std::abs(t) < step * 1e-9 ? 0 : t);
    if (ticks.size() > 1000) break;
  }
  return ticks;
}

std::vector<double> byte_ticks(double max_bytes, int target) {
  std::vector<double> ticks;
  if (!(max_bytes > 0) || target < 1) return ticks;
  const double unit = byte_unit(max_bytes);
  const double step = nice_step(max_bytes / unit / target) * unit;
  for (double b = 0; b <= max_bytes + step * 1e-9; b += step) {
    ticks.push_back(b);
    if (ticks.size() > 1000) break;
  }
  return ticks;
}

std::string time_tick_label(double seconds) {
  if (seconds <= 0) return "0";
  return format_duration(Millis(static_cast<int64_t>(std::llround(seconds * 1000))));
}

std::string byte_tick_label(double bytes, double step) {
  if (bytes <= 0) return "0";
  static constexpr std::array<const char*, 6> kUnits{"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  const double unit = byte_unit(std::max(bytes, step));
  size_t index = 0;
  for (double u = unit; u >= 1024 && index + 1 < kUnits.size(); u /= 1024) ++index;
  const double in_unit = step / unit;
  const int decimals = in_unit >= 1 ? 0 : in_unit >= 0.1 ? 1 : 2;
  return fmt::format("{:.{}f} {}", bytes / unit, decimals, kUnits[index]);
}

std::string render_memory_chart(const ChartInput& input) {
  double t_min = 0, t_max = 0, y_max = 0;
  bool any = false;
  for (const ChartSeries& s : input.series) {
    for (const auto& [t, v] : s.points) {
      t_min = any ? std::min(t_min, t) : t;
      t_max = any ? std::max(t_max, t) : t;
      y_max = std::max(y_max, v);
      any = true;
    }
  }
  for (const ChartThreshold& threshold : input.thresholds) {
    y_max = std::max(y_max, static_cast<double>(threshold.bytes));
  }
  // A series that starts near the process's start is drawn from 0, so the axis reads as uptime.
  if (t_min > 0 && t_min < 0.1 * (t_max - t_min)) t_min = 0;
  if (!(t_max > t_min)) {
    t_min = std::max(0.0, t_min - 1);
    t_max = t_min + 2;
  }
  if (y_max <= 0) y_max = 1 << 20;
  const std::vector<double> y_ticks = byte_ticks(y_max * 1.05, 6);
  const double y_step = y_ticks.size() > 1 ? y_ticks[1] - y_ticks[0] : y_max;
  const double y_top = std::max(y_ticks.empty() ? y_max : y_ticks.back(), y_max * 1.05);
  auto x_of = [&](double t) { return kLeft + (t - t_min) / (t_max - t_min) * kPlotW; };
  auto y_of = [&](double b) { return kTop + kPlotH - b / y_top * kPlotH; };

  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{0}\" height=\"{1}\" "
      "viewBox=\"0 0 {0} {1}\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" "
      "font-size=\"13\">\n"
      "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
      "<text x=\"{2}\" y=\"28\" font-size=\"18\" font-weight=\"bold\">{3}</text>\n"
      "<text x=\"{2}\" y=\"48\" fill=\"#555\">{4}</text>\n",
      kWidth, kHeight, kLeft, escape(input.title), escape(input.subtitle));

  // Grid and y labels.
  for (double b : y_ticks) {
    const double y = y_of(b);
    svg += fmt::format(
        "<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"#e3e3e3\"/>\n"
        "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"end\" fill=\"#333\">{}</text>\n",
        kLeft, y, kLeft + kPlotW, y, kLeft - 8, y + 4, escape(byte_tick_label(b, y_step)));
  }
  for (double t : time_ticks(t_min, t_max, 8)) {
    const double x = x_of(t);
    svg += fmt::format(
        "<line x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{0:.1f}\" y2=\"{2:.1f}\" stroke=\"#e3e3e3\"/>\n"
        "<text x=\"{0:.1f}\" y=\"{3:.1f}\" text-anchor=\"middle\" fill=\"#333\">{4}</text>\n",
        x, kTop, kTop + kPlotH, kTop + kPlotH + 20, escape(time_tick_label(t)));
  }
  svg += fmt::format(
      "<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"none\" stroke=\"#888\"/>\n"
      "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\" fill=\"#333\">time since the "
      "process started</text>\n",
      kLeft, kTop, kPlotW, kPlotH, kLeft + kPlotW / 2, kHeight - 18);

  // Thresholds: dashed lines, labels in the right margin pushed apart so they never overlap.
  std::vector<ChartThreshold> thresholds = input.thresholds;
  std::sort(thresholds.begin(), thresholds.end(),
            [](const auto& a, const auto& b) { return a.bytes > b.bytes; });
  double last_label_y = -1e9;
  for (const ChartThreshold& threshold : thresholds) {
    const double y = y_of(static_cast<double>(threshold.bytes));
    const double label_y = std::max(y + 4, last_label_y + 16);
    last_label_y = label_y;
    svg += fmt::format(
        "<line x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\" stroke=\"{}\" "
        "stroke-width=\"1.5\" stroke-dasharray=\"8 5\"/>\n"
        "<text x=\"{:.1f}\" y=\"{:.1f}\" fill=\"{}\">{} {}</text>\n",
        kLeft, y, kLeft + kPlotW, y, escape(threshold.color), kLeft + kPlotW + 8, label_y,
        escape(threshold.color), escape(threshold.label), escape(format_size(threshold.bytes)));
  }

  // Series, and a legend above the plot with each one's last value.
  double legend_x = kLeft;
  for (const ChartSeries& s : input.series) {
    if (s.points.empty()) continue;
    if (s.points.size() == 1) {
      svg += fmt::format("<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"{}\"/>\n",
                         x_of(s.points[0].first), y_of(s.points[0].second), escape(s.color));
    } else {
      svg += fmt::format(
          "<polyline fill=\"none\" stroke=\"{}\" stroke-width=\"1.8\" "
          "stroke-linejoin=\"round\" points=\"",
          escape(s.color));
      for (const auto& [t, v] : s.points) svg += fmt::format("{:.1f},{:.1f} ", x_of(t), y_of(v));
      svg += "\"/>\n";
    }
    const std::string label =
        s.name + " " + format_size(static_cast<uint64_t>(std::max(0.0, s.points.back().second)));
    svg += fmt::format(
        "<line x1=\"{0:.1f}\" y1=\"70\" x2=\"{1:.1f}\" y2=\"70\" stroke=\"{2}\" "
        "stroke-width=\"3\"/>\n<text x=\"{3:.1f}\" y=\"74\">{4}</text>\n",
        legend_x, legend_x + 18, escape(s.color), legend_x + 24, escape(label));
    legend_x += 24 + 8.0 * static_cast<double>(label.size()) + 22;
  }
  if (!any) {
    svg += fmt::format(
        "<text x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"middle\" fill=\"#888\">no samples "
        "retained for this process</text>\n",
        kLeft + kPlotW / 2, kTop + kPlotH / 2);
  }
  svg += "</svg>\n";
  return svg;
}

}  // namespace memvisor
