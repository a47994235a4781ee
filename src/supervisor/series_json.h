// The `series` answer: each process's recent retained memory series in its service's metric,
// with the service's warn/limit/critical sizes and the leak rule's slope. Pure (no supervisor
// state): `memvisor top` draws its sparklines from it and the browser page its charts.
#pragma once

#include <cstddef>
#include <deque>
#include <nlohmann/json.hpp>
#include <string>

#include "core/config/config.h"
#include "core/leak/leak_detector.h"
#include "core/rules/gauge_store.h"
#include "core/rules/timed_sample.h"

namespace memvisor {

// One measured unit: an instance's process (child 0) or one of its pre-fork children.
struct SeriesUnit {
  std::string service;
  int instance = 0;
  int generation = 0;
  int child = 0;  // a pre-fork child's pid; 0: the instance's own process
  int pid = 0;
  bool primary = true;      // false for a recycle's replacement until it takes over
  double started_at_s = 0;  // Unix seconds; the samples' times count from here
  const std::deque<TimedSample>* samples = nullptr;  // null: not measured (yet)
  const GaugeStore* gauges = nullptr;                // for metric = "gauge:NAME"
  const LeakAssessment* leak = nullptr;              // null: no leak rule, or nothing judged
};

// Points per unit when the request names none, and the most it may ask for (all retained).
constexpr size_t kSeriesDefaultPoints = 120;
constexpr size_t kSeriesMaxPoints = 8640;

// {"unit":"web.1","service":"web","instance":1,"generation":1,"child":0,"pid":123,
//  "primary":true,"started_at":…,"metric":"pss","interval_ms":1000,
//  "t":[Unix seconds…],"values":[bytes…],          (the last `points` samples, oldest first)
//  "warn":N|null,"limit":N|null,"critical":N|null,  (bytes; "warn_metric" etc. when a rule reads
//                                                     another metric than the series shows)
//  "leak_rate_bytes_per_hour":N|null,"leak_slope_bytes_per_hour":N|null,"leak_reason":"…"}
// Columns rather than [t, v] pairs: a chart library (uPlot) takes them as they are.
nlohmann::json series_json(const ServiceConfig& service, const SeriesUnit& unit, size_t points);

}  // namespace memvisor
