// leak_score: replays labelled memory traces through memvisor's leak detector and two baselines,
// and prints per-trace verdicts and one summary line per detector and suite (see BENCHMARKS.md).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>

#include "core/text_table.h"
#include "leak_replay.h"

namespace memvisor::bench {
namespace {

struct Score {
  int none = 0, false_alarms = 0, early = 0, leaks = 0, detected = 0, episodes = 0;
  double none_hours = 0;
  std::vector<double> latencies_min;
  std::optional<double> fast_leak_min;
};

const char* const kDetectors[] = {"memvisor", "seed004", "ruby-gem"};

std::unique_ptr<ReplayDetector> make(int which, double rate, std::optional<double> warmup_s) {
  if (which == 0) return make_memvisor_detector(rate, warmup_s);
  if (which == 1) return make_seed004_detector(rate);
  return make_ruby_gem_detector();
}

std::string minutes(std::optional<double> seconds) {
  return seconds ? fmt::format("{:.1f}", *seconds / 60) : "-";
}

std::string verdict(const Trace& trace, const ReplayOutcome& o) {
  if (!trace.leak) return o.false_alarm ? "FALSE ALARM" : "ok";
  if (o.false_alarm) return o.first_valid_report_s ? "EARLY (false alarm)" : "EARLY, then missed";
  return o.first_valid_report_s ? "ok" : "MISSED";
}

void count(const Trace& trace, const ReplayOutcome& o, Score& score) {
  if (!trace.leak) {
    ++score.none;
    score.false_alarms += o.false_alarm;
    score.episodes += o.alarm_episodes;
    score.none_hours += o.watched_s / 3600;
    return;
  }
  ++score.leaks;
  score.early += o.false_alarm;
  if (!o.first_valid_report_s) return;
  ++score.detected;
  const double latency = (*o.first_valid_report_s - trace.leak_start_s) / 60;
  score.latencies_min.push_back(latency);
  if (trace.name == "fast_leak") {
    // Over several suites: the worst one.
    score.fast_leak_min = std::max(score.fast_leak_min.value_or(0.0), latency);
  }
}

std::string summary(const std::string& who, const std::string& suite, Score s) {
  std::sort(s.latencies_min.begin(), s.latencies_min.end());
  std::string median = "-", worst = "-";
  if (!s.latencies_min.empty()) {
    const size_t n = s.latencies_min.size();
    const double m =
        n % 2 ? s.latencies_min[n / 2] : (s.latencies_min[n / 2 - 1] + s.latencies_min[n / 2]) / 2;
    median = fmt::format("{:.1f} min", m);
    worst = fmt::format("{:.1f} min", s.latencies_min.back());
  }
  const std::string fast = s.fast_leak_min ? fmt::format("{:.1f} min", *s.fast_leak_min) : "-";
  return fmt::format(
      "{:<9} {}: false alarms {}/{} none + {} early, leaks detected {}/{}, latency median {}, "
      "worst {}, fast_leak {} ({} alarm onsets in {:.0f} h of none traces)",
      who, suite, s.false_alarms, s.none, s.early, s.detected, s.leaks, median, worst, fast,
      s.episodes, s.none_hours);
}

// The memvisor detector's view of one trace, every `step_s`, with the warm-up it is scored with
// (`warmup_s`, or the default): for diagnosing a verdict.
void explain(const Trace& trace, double rate, double step_s, std::optional<double> warmup_s) {
  LeakDetector detector(memvisor_rule(rate, warmup_s));
  double next = 0;
  for (const auto& [t, bytes] : trace.samples) {
    detector.add(t, bytes);
    if (t < next) continue;
    next = t + step_s;
    const LeakAssessment& a = detector.assess();
    std::printf("%8.1f min %-5s slope %7.1f low %7.1f MiB/h span %6.1f min window %5.1f min  %s\n",
                t / 60, a.leaking ? "LEAK" : "-", a.slope_bytes_per_hour / 1048576,
                a.slope_low_bytes_per_hour / 1048576, a.span_s / 60, a.floor_window_s / 60,
                a.reason.c_str());
  }
}

int run(const std::vector<std::string>& dirs, double rate,
        const std::vector<std::string>& explain_names, double explain_step_s, bool summary_only,
        bool declared_warmup, std::optional<double> warmup_s) {
  std::map<int, Score> totals;
  for (const auto& path : dirs) {
    // The default suites are named as the repository refers to them: ../shared/...
    const std::string root = (std::filesystem::path(MEMVISOR_SOURCE_DIR) / "").string();
    const std::string dir = path.starts_with(root) ? path.substr(root.size()) : path;
    auto suite = load_suite(path);
    if (!suite) {
      std::fprintf(stderr, "leak_score: %s\n", suite.error().describe().c_str());
      return 1;
    }
    TextTable table({"TRACE", "LABEL", "MiB/h", "OURS@min", "LATENCY", "VERDICT", "SEED004@min",
                     "LATENCY", "VERDICT", "RUBYGEM@min", "LATENCY", "VERDICT"});
    std::map<int, Score> scores;
    for (const Trace& trace : *suite) {
      const std::optional<double> warmup = declared_warmup ? trace.warmup_s : warmup_s;
      if (std::find(explain_names.begin(), explain_names.end(), trace.name) !=
          explain_names.end()) {
        std::printf("== %s/%s\n", dir.c_str(), trace.name.c_str());
        explain(trace, rate, explain_step_s, warmup);
      }
      std::vector<std::string> row{trace.name, trace.leak ? "leak" : "none",
                                   fmt::format("{:.1f}", trace.slope_mib_per_hour)};
      for (int which = 0; which < 3; ++which) {
        const auto detector = make(which, rate, warmup);
        const ReplayOutcome o = replay(trace, *detector);
        std::optional<double> latency;
        if (o.first_valid_report_s) latency = *o.first_valid_report_s - trace.leak_start_s;
        row.push_back(minutes(o.first_report_s));
        row.push_back(minutes(latency));
        row.push_back(verdict(trace, o));
        count(trace, o, scores[which]);
        count(trace, o, totals[which]);
      }
      table.add_row(std::move(row));
    }
    if (!summary_only)
      std::printf("== %s (rate %g MiB/h)\n%s\n", dir.c_str(), rate, table.render().c_str());
    for (int which = 0; which < 3; ++which) {
      std::printf("%s\n", summary(kDetectors[which], dir, scores[which]).c_str());
    }
    std::printf("\n");
  }
  if (dirs.size() > 1) {
    for (int which = 0; which < 3; ++which) {
      std::printf("%s\n", summary(kDetectors[which], fmt::format("all {} suites", dirs.size()),
                                  totals[which])
                              .c_str());
    }
  }
  return 0;
}

}  // namespace
}  // namespace memvisor::bench

namespace {

constexpr const char* kUsage =
    "usage: leak_score [--traces DIR] [--real-traces DIR] [--dir DIR]... [--rate MIB_PER_H]\n"
    "                  [--summary-only] [--explain TRACE]... [--explain-step SECONDS]\n"
    "                  [--declared-warmup | --warmup MINUTES]\n"
    "Scores memvisor's leak detector and two baselines on labelled memory traces.\n"
    "  --traces DIR       the synthetic suite (default ../shared/traces next to the repository)\n"
    "  --real-traces DIR  the real-runtime suite (default ../shared/real_traces)\n"
    "  --dir DIR          score these suites instead (repeatable): DIR/manifest.json + CSVs\n"
    "  --rate R           leak threshold in MiB/h (default 10)\n"
    "  --summary-only     print only the summary lines\n"
    "  --declared-warmup  give memvisor's rule the warm-up a trace's manifest declares "
    "(warmup_s),\n"
    "                     as its service's `warmup` would be set; otherwise the default (30m)\n"
    "  --warmup MINUTES   give memvisor's rule this warm-up for every trace\n"
    "  --explain TRACE    print memvisor's assessment of TRACE over time (repeatable)\n"
    "  --explain-step S   seconds between explain lines (default 300)\n";

bool parse_number(const char* text, double& out) {
  char* end = nullptr;
  out = std::strtod(text, &end);
  return end != text && *end == '\0' && std::isfinite(out) && out > 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string root = MEMVISOR_SOURCE_DIR;
  std::string traces = root + "/../shared/traces", real_traces = root + "/../shared/real_traces";
  std::vector<std::string> dirs, explain;
  double rate = 10, explain_step_s = 300;
  std::optional<double> warmup_s;
  bool summary_only = false, declared_warmup = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const char* value = i + 1 < argc ? argv[i + 1] : nullptr;
    bool ok = true;
    if (arg == "--summary-only") {
      summary_only = true;
    } else if (arg == "--declared-warmup") {
      declared_warmup = true;
    } else if (arg == "--help" || arg == "-h") {
      std::fputs(kUsage, stdout);
      return 0;
    } else if (!value) {
      ok = false;
    } else if (arg == "--traces") {
      traces = value;
    } else if (arg == "--real-traces") {
      real_traces = value;
    } else if (arg == "--dir") {
      dirs.emplace_back(value);
    } else if (arg == "--explain") {
      explain.emplace_back(value);
    } else if (arg == "--rate") {
      ok = parse_number(value, rate);
    } else if (arg == "--warmup") {
      double minutes = 0;
      ok = parse_number(value, minutes);
      warmup_s = minutes * 60;
    } else if (arg == "--explain-step") {
      ok = parse_number(value, explain_step_s);
    } else {
      ok = false;
    }
    if (!ok) {
      std::fprintf(stderr, "leak_score: bad argument %s\n%s", arg.c_str(), kUsage);
      return 2;
    }
    if (value && arg != "--summary-only" && arg != "--declared-warmup") ++i;
  }
  if (dirs.empty()) dirs = {traces, real_traces};
  return memvisor::bench::run(dirs, rate, explain, explain_step_s, summary_only, declared_warmup,
                              warmup_s);
}
