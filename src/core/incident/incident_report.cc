#include "core/incident/incident_report.h"

#include "core/observe/unit_name.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "core/units.h"

namespace memvisor {
namespace {

std::string rule_line(const IncidentFacts& facts) {
  if (!facts.decision) {
    if (facts.trigger == "oom_kill") return "none: the kernel's OOM killer acted, not a rule";
    if (facts.trigger == "watchdog") return "none: the worker missed its watchdog (hung)";
    return "none (an operator asked for this dump)";
  }
  return describe_decision(*facts.decision);
}

}  // namespace

nlohmann::json memory_values_json(const MemoryValues& v) {
  return {{"rss", v.rss}, {"pss", v.pss}, {"uss", v.uss}, {"swap", v.swap}, {"anon", v.anon}};
}

std::string describe_decision(const RuleDecision& d) {
  // A gauge is in its own unit (a queue's depth, bytes of a runtime's heap): shown as the number.
  const bool gauge = d.metric.starts_with("gauge:");
  const auto amount = [&](double value) {
    return gauge ? fmt::format("{:g}", value)
                 : format_size(static_cast<uint64_t>(std::max(0.0, value)));
  };
  if (d.rule == "leak") {
    return fmt::format("leak: {} grows {}/h against a rate of {}/h", d.metric,
                       amount(d.slope_bytes_per_hour.value_or(d.value)), amount(d.threshold));
  }
  return fmt::format("{} = {} ({}), measured {}", d.rule, amount(d.threshold), d.metric,
                     amount(d.value));
}

std::string incident_summary(const IncidentFacts& facts) {
  std::string out = fmt::format(
      "memvisor incident {}\n"
      "instance:   {} (pid {}, generation {})\n"
      "time:       {}\n"
      "trigger:    {}\n"
      "rule:       {}\n",
      facts.id, unit_name(facts.service, facts.instance, facts.child), facts.pid, facts.generation,
      format_rfc3339(facts.time), facts.trigger, rule_line(facts));
  if (facts.decision && !facts.decision->message.empty()) {
    out += fmt::format("what:       {}\n", facts.decision->message);
  }
  out += fmt::format("memory:     rss {}, pss {}, uss {}, swap {}\n", format_size(facts.memory.rss),
                     format_size(facts.memory.pss), format_size(facts.memory.uss),
                     format_size(facts.memory.swap));
  if (facts.uptime_s) {
    out += fmt::format(
        "uptime:     {}\n",
        format_duration(Millis(static_cast<int64_t>(std::max(0.0, *facts.uptime_s) * 1000))));
  }
  if (!facts.gauges.empty()) {
    std::string list;
    for (const auto& [name, value] : facts.gauges) {
      list += fmt::format("{}{} {}", list.empty() ? "" : ", ", name, value);
    }
    out += fmt::format("gauges:     {} (series in memory.csv, gauge:NAME columns)\n", list);
  }
  out += fmt::format("action:     {}\n", facts.action);
  out += fmt::format("command:    {}\n", facts.cmdline.empty() ? "(unreadable)" : facts.cmdline);
  out += fmt::format("samples:    {} retained (memory.csv, memory.svg)\n", facts.samples);
  if (facts.heap_sample) out += fmt::format("heap:       {}\n", *facts.heap_sample);
  if (!facts.files.empty()) {
    out += "files:     ";
    for (const std::string& file : facts.files) out += " " + file;
    out += "\n";
  }
  return out;
}

nlohmann::json incident_json(const IncidentFacts& facts) {
  nlohmann::json document = {
      {"id", facts.id},
      {"ts", format_rfc3339(facts.time)},
      {"trigger", facts.trigger},
      {"service", facts.service},
      {"instance", facts.instance},
      {"generation", facts.generation},
      {"pid", facts.pid},
      {"action", facts.action},
      {"memory", memory_values_json(facts.memory)},
      {"cmdline", facts.cmdline},
      {"samples", facts.samples},
      {"files", facts.files},
  };
  if (facts.child != 0) {
    document["child"] = facts.child;
    document["unit"] = unit_name(facts.service, facts.instance, facts.child);
  }
  if (facts.uptime_s) document["uptime_s"] = *facts.uptime_s;
  if (!facts.gauges.empty()) document["gauges"] = facts.gauges;
  if (facts.heap_sample) document["heap_sample"] = *facts.heap_sample;
  if (facts.decision) {
    const RuleDecision& d = *facts.decision;
    document["rule"] = {{"rule", d.rule},   {"action", d.action},       {"metric", d.metric},
                        {"value", d.value}, {"threshold", d.threshold}, {"message", d.message}};
    if (d.slope_bytes_per_hour) document["rule"]["slope_bytes_per_hour"] = *d.slope_bytes_per_hour;
    if (d.confidence) document["rule"]["confidence"] = *d.confidence;
  } else {
    document["rule"] = nullptr;
  }
  return document;
}

std::string memory_csv(const std::deque<TimedSample>& samples, const GaugeSeries& gauges) {
  std::string out = "t_s,rss,pss,uss,swap,anon";
  for (const auto& [name, series] : gauges) out += ",gauge:" + name;
  out += "\n";
  // A gauge's point belongs to the memory sample of the same round, which has the very same t_s;
  // both series are in time order, so one cursor per gauge walks along.
  std::vector<std::deque<GaugePoint>::const_iterator> cursors;
  for (const auto& [name, series] : gauges) cursors.push_back(series.begin());
  for (const TimedSample& s : samples) {
    out += fmt::format("{:.3f},{},{},{},{},{}", s.t_s, s.values.rss, s.values.pss, s.values.uss,
                       s.values.swap, s.values.anon);
    size_t i = 0;
    for (const auto& [name, series] : gauges) {
      auto& at = cursors[i++];
      while (at != series.end() && at->t_s < s.t_s - 1e-6) ++at;
      out += ',';
      if (at != series.end() && std::abs(at->t_s - s.t_s) <= 1e-6)
        out += fmt::format("{}", at->value);
    }
    out += '\n';
  }
  return out;
}

ChartInput incident_chart(const IncidentFacts& facts, const std::deque<TimedSample>& samples,
                          const MemoryRules* rules) {
  ChartInput chart;
  chart.title =
      fmt::format("{} — {}", unit_name(facts.service, facts.instance, facts.child), facts.trigger);
  // "2026-11-22T19:30:12.250Z" → "2026-11-22 19:30:12 UTC"
  std::string when = format_rfc3339(facts.time).substr(0, 19);
  when[10] = ' ';
  chart.subtitle = fmt::format("{} UTC, pid {}, generation {}", when, facts.pid, facts.generation);
  struct Kind {
    const char* name;
    const char* color;
    uint64_t MemoryValues::*field;
  };
  static constexpr Kind kKinds[] = {{"rss", "#ff7f0e", &MemoryValues::rss},
                                    {"pss", "#1f77b4", &MemoryValues::pss},
                                    {"uss", "#2ca02c", &MemoryValues::uss},
                                    {"swap", "#9467bd", &MemoryValues::swap}};
  for (const Kind& kind : kKinds) {
    ChartSeries series{kind.name, kind.color, {}};
    bool nonzero = false;
    for (const TimedSample& s : samples) {
      const uint64_t v = s.values.*kind.field;
      nonzero = nonzero || v != 0;
      series.points.emplace_back(s.t_s, static_cast<double>(v));
    }
    // An all-zero swap line says nothing and hides the x axis.
    if (nonzero || std::string_view(kind.name) != "swap") chart.series.push_back(std::move(series));
  }
  if (rules != nullptr) {
    auto metric_of = [&](const std::optional<MemoryMetric>& m) {
      return std::string(to_string(m.value_or(rules->metric)));
    };
    // The chart is of memory: a threshold on a gauge is in another unit.
    auto on_gauge = [&](const std::optional<MemoryMetric>& m) {
      return (m ? *m : rules->metric).is_gauge();
    };
    if (rules->warn && !on_gauge(rules->warn->metric)) {
      chart.thresholds.push_back(
          {"warn (" + metric_of(rules->warn->metric) + ")", rules->warn->size, "#b8860b"});
    }
    if (rules->limit && !on_gauge(rules->limit->metric)) {
      chart.thresholds.push_back(
          {"limit (" + metric_of(rules->limit->metric) + ")", rules->limit->size, "#d62728"});
    }
    if (rules->critical && !on_gauge(rules->critical->metric)) {
      chart.thresholds.push_back({"critical (" + metric_of(rules->critical->metric) + ")",
                                  rules->critical->size, "#8b0000"});
    }
  }
  return chart;
}

}  // namespace memvisor
