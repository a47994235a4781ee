// MemoryRules ↔ JSON. Each optional rule is null or an object with all of its keys.
#include "core/config/config_json_memory.h"

#include <fmt/format.h>

#include "core/config/config_names.h"
#include "core/config/metric_name.h"

namespace memvisor {

using nlohmann::json;

namespace {

json metric_to_json(const std::optional<MemoryMetric>& metric) {
  return metric ? json(metric_name(*metric)) : json(nullptr);
}

// A metric's spelling ("rss", "gauge:NAME"); null leaves an optional one empty.
void read_metric_json(JsonReader& r, const json& j, const std::string& path, MemoryMetric& out) {
  std::string why;
  std::optional<MemoryMetric> metric;
  if (j.is_string()) metric = parse_metric(j.get<std::string>(), why);
  if (!metric && (!j.is_string() || !j.get<std::string>().starts_with(kGaugePrefix))) {
    why = fmt::format("expected {}, got {}", metric_choices(), j.dump());
  }
  if (!metric) return (void)r.fail(path, why);
  out = std::move(*metric);
}
void read_metric_json(JsonReader& r, const json& j, const std::string& path,
                      std::optional<MemoryMetric>& out) {
  if (j.is_null()) return out.reset();
  read_metric_json(r, j, path, out.emplace());
}

std::string at(const std::string& path, std::string_view key) {
  return fmt::format("{}.{}", path, key);
}

// Reads an optional rule: null leaves it empty, anything else must be an object with `keys`,
// whose values `read_parts` reads into the rule.
template <class Rule, class ReadParts>
void rule_from_json(JsonReader& r, const json& j, const std::string& path,
                    const std::vector<std::string>& keys, std::optional<Rule>& out,
                    ReadParts&& read_parts) {
  out.reset();
  if (j.is_null() || !r.object(j, path, keys)) return;
  read_parts(out.emplace());
}

}  // namespace

json size_rule_to_json(const std::optional<SizeRule>& rule) {
  if (!rule) return nullptr;
  return {{"size", rule->size}, {"metric", metric_to_json(rule->metric)}};
}

json memory_to_json(const MemoryRules& m) {
  json j = {
      {"interval_ms", m.interval.count()},
      {"metric", metric_name(m.metric)},
      {"tree", m.tree},
      {"warn", size_rule_to_json(m.warn)},
      {"critical", size_rule_to_json(m.critical)},
      {"total", size_rule_to_json(m.total)},
      {"limit", nullptr},
      {"leak", nullptr},
      {"requests", nullptr},
      {"age", nullptr},
  };
  if (m.limit) {
    j["limit"] = {{"size", m.limit->size},
                  {"samples", m.limit->samples},
                  {"metric", metric_to_json(m.limit->metric)}};
  }
  if (m.leak) {
    j["leak"] = {{"rate_bytes_per_hour", m.leak->rate_bytes_per_hour},
                 {"action", enum_name(kLeakActionNames, m.leak->action)},
                 {"sample_ms", m.leak->sample.count()},
                 {"warmup_ms", m.leak->warmup.count()},
                 {"metric", metric_to_json(m.leak->metric)}};
  }
  if (m.requests) j["requests"] = {{"max", m.requests->max}, {"jitter", m.requests->jitter}};
  if (m.age) j["age"] = {{"max_ms", m.age->max.count()}, {"jitter_ms", m.age->jitter.count()}};
  return j;
}

void size_rule_from_json(JsonReader& r, const json& j, const std::string& path,
                         std::optional<SizeRule>& rule) {
  rule_from_json(r, j, path, {"size", "metric"}, rule, [&](SizeRule& out) {
    r.read(j["size"], at(path, "size"), out.size);
    read_metric_json(r, j["metric"], at(path, "metric"), out.metric);
  });
}

void memory_from_json(JsonReader& r, const json& j, const std::string& path, MemoryRules& m) {
  if (!r.object(j, path,
                {"interval_ms", "metric", "tree", "warn", "critical", "total", "limit", "leak",
                 "requests", "age"})) {
    return;
  }
  r.read(j["interval_ms"], at(path, "interval_ms"), m.interval);
  read_metric_json(r, j["metric"], at(path, "metric"), m.metric);
  r.read(j["tree"], at(path, "tree"), m.tree);
  size_rule_from_json(r, j["warn"], at(path, "warn"), m.warn);
  size_rule_from_json(r, j["critical"], at(path, "critical"), m.critical);
  size_rule_from_json(r, j["total"], at(path, "total"), m.total);
  const std::string limit = at(path, "limit");
  rule_from_json(r, j["limit"], limit, {"size", "samples", "metric"}, m.limit, [&](LimitRule& out) {
    r.read(j["limit"]["size"], at(limit, "size"), out.size);
    r.read(j["limit"]["samples"], at(limit, "samples"), out.samples);
    read_metric_json(r, j["limit"]["metric"], at(limit, "metric"), out.metric);
  });
  const std::string leak = at(path, "leak");
  rule_from_json(
      r, j["leak"], leak, {"rate_bytes_per_hour", "action", "sample_ms", "warmup_ms", "metric"},
      m.leak, [&](LeakRule& out) {
        const json& l = j["leak"];
        r.read(l["rate_bytes_per_hour"], at(leak, "rate_bytes_per_hour"), out.rate_bytes_per_hour);
        r.read(l["action"], at(leak, "action"), kLeakActionNames, out.action);
        r.read(l["sample_ms"], at(leak, "sample_ms"), out.sample);
        r.read(l["warmup_ms"], at(leak, "warmup_ms"), out.warmup);
        read_metric_json(r, l["metric"], at(leak, "metric"), out.metric);
      });
  const std::string requests = at(path, "requests");
  rule_from_json(r, j["requests"], requests, {"max", "jitter"}, m.requests, [&](RequestsRule& out) {
    r.read(j["requests"]["max"], at(requests, "max"), out.max);
    r.read(j["requests"]["jitter"], at(requests, "jitter"), out.jitter);
  });
  const std::string age = at(path, "age");
  rule_from_json(r, j["age"], age, {"max_ms", "jitter_ms"}, m.age, [&](AgeRule& out) {
    r.read(j["age"]["max_ms"], at(age, "max_ms"), out.max);
    r.read(j["age"]["jitter_ms"], at(age, "jitter_ms"), out.jitter);
  });
}

}  // namespace memvisor
