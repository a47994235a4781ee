// `memvisor replay TRACE.csv`: the same rule code as the supervisor, on recorded data. One JSON
// line per decision on stdout and nothing else, so it pipes into jq or a scoring script; with
// --explain, also one line per leak verdict saying what the rule saw.
#include <iostream>
#include <nlohmann/json.hpp>

#include "cli/cli_parse.h"
#include "cli/commands.h"
#include "cli/config_file.h"
#include "cli/service_flags.h"
#include "core/rules/memory_rules.h"
#include "core/rules/trace_csv.h"
#include "os/files.h"

namespace memvisor {
namespace {

// One `--explain` line: the leak rule's verdict as of sample time `t_s`.
nlohmann::json explain_line(double t_s, const ProcessRules& rules) {
  const LeakAssessment& a = *rules.leak_assessment();
  return {{"t_s", t_s},
          {"explain", "leak"},
          {"verdict", a.leaking ? "leak" : "no leak"},
          {"span_s", a.span_s},
          {"floor_window_s", a.floor_window_s},
          {"floor_bytes", a.floor_bytes},
          {"slope_bytes_per_hour", a.slope_bytes_per_hour},
          {"slope_low_bytes_per_hour", a.slope_low_bytes_per_hour},
          {"confidence", a.confidence},
          {"rate_bytes_per_hour", rules.leak_rate_bytes_per_hour()},
          {"reason", a.reason}};
}

}  // namespace

int replay_command(const Args& args) {
  CLI::App app(
      "Run the memory rules on a recorded trace (CSV: t_s,bytes or t_s,rss,pss,uss,swap, maybe "
      "with gauge:NAME columns for rules with metric gauge:NAME) and print one JSON line per "
      "decision.",
      "replay");
  std::string trace_path, column, config_path, service_name, state_dir;
  ServiceFlags flags;
  app.add_option("trace", trace_path, "the trace (CSV)")->required();
  app.add_option("--column", column,
                 "the value column to use for every metric (default: the "
                 "metric's own column, else the only one)");
  app.add_option("--config", config_path, "take the rules from this config file...");
  app.add_option("--service", service_name, "...and this service in it (default: the first)");
  bool explain = false;
  app.add_flag("--explain", explain,
               "also print, at each of the leak rule's verdicts (one per 30 s of trace), what it "
               "saw: span, floor window, floor, slope and its lower bound, the rate, and why it "
               "did or did not fire");
  app.add_option("--state-dir", state_dir, "ignored; accepted like every subcommand");
  flags.add_to(app);
  if (auto done = parse_cli(app, args)) return *done;

  ServiceConfig service;
  if (!config_path.empty()) {
    auto config = parse_config_file(config_path);
    if (!config) return fail(kExitUsage, config.error().describe());
    const ServiceConfig* chosen = service_name.empty() ? &config->services.front() : nullptr;
    for (const auto& s : config->services) {
      if (s.name == service_name) chosen = &s;
    }
    if (chosen == nullptr)
      return fail(kExitUsage, "--service: no service '" + service_name + "' in " + config_path);
    service = *chosen;
  } else {
    auto built = flags.build({"replay"});
    if (!built) return fail(kExitUsage, built.error().describe());
    service = std::move(*built);
  }

  if (explain && !service.memory.leak) {
    return fail(kExitUsage,
                "--explain: explains the leak rule, and these rules have none (give --leak RATE, "
                "or a config whose service has leak = { rate = ... })");
  }
  auto text = read_file(trace_path);
  if (!text) return fail(kExitUsage, trace_path + ": cannot read: " + text.error().describe());
  auto trace = parse_trace_csv(*text, trace_path);
  if (!trace) return fail(kExitUsage, trace.error().describe());
  int forced = -1;
  if (!column.empty() && (forced = trace->column(column)) < 0) {
    return fail(kExitUsage, "--column: no column '" + column + "' in " + trace_path);
  }
  // Each metric reads its own column when the trace has it; a one-figure trace feeds them all.
  auto pick = [&](std::string_view name) {
    if (forced >= 0) return forced;
    const int own = trace->column(name);
    return own >= 0 ? own : (trace->columns.size() == 1 ? 0 : trace->column("bytes"));
  };
  const int rss = pick("rss"), pss = pick("pss"), uss = pick("uss"), swap = pick("swap"),
            anon = pick("anon");
  auto get = [&](const std::vector<double>& row, int i) {
    return i < 0 ? 0 : static_cast<uint64_t>(std::max(0.0, row[static_cast<size_t>(i)]));
  };

  // A rule on gauge:NAME reads the trace's column gauge:NAME (an empty cell: no fresh value,
  // not judged), or --column when given.
  std::vector<std::pair<std::string, int>> gauge_columns;
  {
    ProcessRules probe(service, 0.5);
    for (const std::string& name : probe.gauges_read()) {
      const int own = forced >= 0 ? forced : trace->column("gauge:" + name);
      if (own < 0) {
        return fail(kExitUsage, "the rules read gauge:" + name + " and " + trace_path +
                                    " has no column gauge:" + name + " (give --column)");
      }
      gauge_columns.emplace_back(name, own);
    }
  }
  GaugeValues gauges;

  // A replay is one process lifetime, as the supervisor would judge it: after the first recycle
  // or critical decision no other action is taken (the process would have been replaced).
  // Jitter takes its middle value so runs are reproducible.
  ProcessRules rules(service, 0.5);
  for (size_t i = 0; i < trace->t_s.size(); ++i) {
    const auto& row = trace->values[i];
    MemoryValues values{get(row, rss),  get(row, pss),  get(row, uss),
                        get(row, swap), get(row, anon), get(row, pss)};
    const uint64_t verdicts = rules.leak_verdicts();
    gauges.clear();
    for (const auto& [name, index] : gauge_columns) {
      gauges.emplace(name, row[static_cast<size_t>(index)]);  // NaN: not judged
    }
    auto decisions =
        rules.on_sample(trace->t_s[i], values, gauge_columns.empty() ? nullptr : &gauges);
    if (explain && rules.leak_verdicts() != verdicts) {
      std::cout << explain_line(trace->t_s[i], rules).dump() << "\n";
    }
    auto progress = rules.on_progress(trace->t_s[i] - trace->t_s.front(), 0);
    decisions.insert(decisions.end(), progress.begin(), progress.end());
    for (const RuleDecision& d : decisions) {
      nlohmann::json line = {{"t_s", trace->t_s[i]}, {"rule", d.rule},
                             {"action", d.action},   {"metric", d.metric},
                             {"value", d.value},     {"threshold", d.threshold}};
      if (d.slope_bytes_per_hour) line["slope_bytes_per_hour"] = *d.slope_bytes_per_hour;
      if (d.confidence) line["confidence"] = *d.confidence;
      std::cout << line.dump() << "\n";
    }
  }
  return kExitOk;
}

}  // namespace memvisor
