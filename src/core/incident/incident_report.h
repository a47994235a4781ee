// The pure parts of an incident bundle: its id, the human summary, incident.json, the memory
// series as CSV and the chart's input. Everything is an argument (time included).
#pragma once

#include <deque>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/config/config.h"
#include "core/incident/incident_id.h"
#include "core/incident/memory_chart.h"
#include "core/rules/gauge_store.h"
#include "core/rules/memory_rules.h"
#include "core/rules/timed_sample.h"
#include "core/time_format.h"

namespace memvisor {

struct IncidentFacts {
  std::string id;
  WallTime time;
  std::string trigger;  // the rule that acted ("critical", "leak") or "dump"
  std::string service;
  int instance = 0;
  int generation = 0;
  int pid = 0;
  int child = 0;  // a pre-fork child's pid ("web.1/12345"); 0: the instance's process
  std::optional<RuleDecision> decision;  // none for an operator's dump
  std::string action;                    // what memvisor does about it, in words
  std::optional<double> uptime_s;        // the process's age at the time
  MemoryValues memory;                   // the last sample
  std::map<std::string, double> gauges;  // the process's gauges, their latest values
  std::string cmdline;
  size_t samples = 0;
  std::vector<std::string> files;  // the bundle's files, for the summary's last lines
  // A leak's heap sample: what heap_sample.json holds, or "none: " and why there is none.
  std::optional<std::string> heap_sample;
};

// {"rss": …, "pss": …, "uss": …, "swap": …, "anon": …} in bytes.
nlohmann::json memory_values_json(const MemoryValues& values);

// A rule's decision in one line: "leak: pss grows 20 MiB/h against a rate of 10 MiB/h", or
// "critical = 1 GiB (pss), measured 1.1 GiB".
std::string describe_decision(const RuleDecision& decision);

std::string incident_summary(const IncidentFacts& facts);
nlohmann::json incident_json(const IncidentFacts& facts);
// A gauge's series, as the process's gauge store kept it (one point per memory sample while the
// gauge was fresh), by name.
using GaugeSeries = std::map<std::string, std::deque<GaugePoint>>;

// "t_s,rss,pss,uss,swap,anon" then one row per sample, bytes, and a gauge:NAME column per gauge
// (empty where the gauge had no fresh value at that sample); `memvisor replay` reads it back,
// gauge rules included.
std::string memory_csv(const std::deque<TimedSample>& samples, const GaugeSeries& gauges = {});

// The chart of the series with the service's warn, limit and critical thresholds.
ChartInput incident_chart(const IncidentFacts& facts, const std::deque<TimedSample>& samples,
                          const MemoryRules* rules);

}  // namespace memvisor
