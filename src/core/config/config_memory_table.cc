// The memory rules of a service table. Each value passes the check function that validate_config
// and the command-line flags use, so all three reject the same things with the same words.
#include "core/config/config_memory_table.h"

#include <fmt/format.h>

#include <algorithm>
#include <string>

#include "core/config/config_names.h"
#include "core/config/config_toml_values.h"
#include "core/config/config_validate_memory.h"
#include "core/config/metric_name.h"

namespace memvisor {
namespace {

std::string sub(std::string_view field, std::string_view key) {
  return fmt::format("{}.{}", field, key);
}

TomlProblem check_at(const toml::node& node, std::string_view field,
                     const std::optional<std::string>& what) {
  if (what) return located_at(node, field, *what);
  return std::nullopt;
}

TomlProblem read_checked_size(const toml::node& node, std::string_view field, uint64_t& out) {
  if (auto problem = read_size_value(node, field, out)) return problem;
  return check_at(node, field, check_size(out));
}

TomlProblem read_metric_value(const toml::node& node, std::string_view field, MemoryMetric& out) {
  const auto* text = node.as_string();
  if (!text) return wrong_type(node, field, metric_choices());
  std::string why;
  auto metric = parse_metric(text->get(), why);
  if (!metric) return located_at(node, field, why);
  out = std::move(*metric);
  return std::nullopt;
}

TomlProblem read_metric(const toml::node& node, std::string_view field,
                        std::optional<MemoryMetric>& out) {
  MemoryMetric metric;
  if (auto problem = read_metric_value(node, field, metric)) return problem;
  out = std::move(metric);
  return std::nullopt;
}

// A rule table that reads a gauge (metric = "gauge:…", wherever the key is in the table): its
// size is that gauge's unit, so a plain number is what it means, not a forgotten unit.
bool reads_gauge(const toml::table& table) {
  const toml::node* metric = table.get("metric");
  return metric != nullptr && metric->is_string() &&
         metric->as_string()->get().starts_with(kGaugePrefix);
}

// A threshold on a gauge: a non-negative integer in the gauge's own unit, or a size like 512MiB
// for a gauge in bytes.
TomlProblem read_gauge_threshold(const toml::node& node, std::string_view field, uint64_t& out) {
  if (const auto* number = node.as_integer()) {
    if (number->get() < 0) {
      return located_at(node, field,
                        fmt::format("expected a number of at least 0, got {}", number->get()));
    }
    out = static_cast<uint64_t>(number->get());
    return std::nullopt;
  }
  if (node.is_string()) return read_size_value(node, field, out);
  return wrong_type(node, field, "an integer (the gauge's unit) or a size like 500MiB");
}

// Reads the keys of a rule's table in file order, handing each known one to `read` with its
// dotted path; then the required key must have been there.
template <size_t N, class ReadPart>
TomlProblem read_rule_table(const toml::table& table, std::string_view field,
                            const std::array<std::string_view, N>& keys, std::string_view required,
                            ReadPart&& read) {
  for (auto [key, value] : in_file_order(table)) {
    if (std::find(keys.begin(), keys.end(), key->str()) == keys.end()) {
      return unknown_key(*key, table, field, keys);
    }
    if (auto problem = read(key->str(), *value, sub(field, key->str()))) return problem;
  }
  if (table.contains(required)) return std::nullopt;
  return Located{table.source().begin,
                 fmt::format("{}: missing required key '{}'", field, required)};
}

TomlProblem read_size_parts(const toml::node& node, std::string_view field, SizeRule& rule) {
  static constexpr std::array<std::string_view, 2> kKeys{"size", "metric"};
  if (node.is_string() || node.is_integer()) return read_checked_size(node, field, rule.size);
  const auto* table = node.as_table();
  if (!table) {
    return wrong_type(node, field, "a size like 500MiB or a table { size = …, metric = … }");
  }
  const bool gauge = reads_gauge(*table);
  auto read_part = [&](std::string_view key, const toml::node& value, const std::string& at) {
    if (key == "size" && gauge) return read_gauge_threshold(value, at, rule.size);
    if (key == "size") return read_checked_size(value, at, rule.size);
    return read_metric(value, at, rule.metric);
  };
  return read_rule_table(*table, field, kKeys, "size", read_part);
}

TomlProblem read_limit(const toml::node& node, std::string_view field, LimitRule& rule) {
  static constexpr std::array<std::string_view, 3> kKeys{"size", "for", "metric"};
  if (node.is_string() || node.is_integer()) return read_checked_size(node, field, rule.size);
  const auto* table = node.as_table();
  if (!table) {
    return wrong_type(node, field,
                      "a size like 500MiB or a table { size = …, for = …, metric = … }");
  }
  const bool gauge = reads_gauge(*table);
  auto read_part = [&](std::string_view key, const toml::node& value, const std::string& at) {
    if (key == "size" && gauge) return read_gauge_threshold(value, at, rule.size);
    if (key == "size") return read_checked_size(value, at, rule.size);
    if (key == "metric") return read_metric(value, at, rule.metric);
    int64_t samples = 0;
    if (auto problem = read_integer_value(value, at, samples)) return problem;
    if (auto problem = check_at(value, at, check_limit_samples(samples))) return problem;
    rule.samples = static_cast<int>(samples);  // the check bounds it
    return TomlProblem{};
  };
  return read_rule_table(*table, field, kKeys, "size", read_part);
}

TomlProblem read_leak(const toml::node& node, std::string_view field, LeakRule& rule) {
  static constexpr std::array<std::string_view, 5> kKeys{"rate", "action", "sample", "warmup",
                                                         "metric"};
  auto read_rate = [&](const toml::node& value, std::string_view at) {
    if (auto problem = read_rate_value(value, at, rule.rate_bytes_per_hour)) return problem;
    return check_at(value, at, check_rate(rule.rate_bytes_per_hour));
  };
  if (node.is_string()) return read_rate(node, field);
  const auto* table = node.as_table();
  if (!table) {
    return wrong_type(
        node, field,
        "a rate like 10MiB/h or a table { rate = …, action = …, sample = …, metric = … }");
  }
  auto read_part = [&](std::string_view key, const toml::node& value, const std::string& at) {
    if (key == "rate") return read_rate(value, at);
    if (key == "action") return read_enum_value(value, at, kLeakActionNames, rule.action);
    if (key == "metric") return read_metric(value, at, rule.metric);
    if (key == "warmup") {
      if (auto problem = read_duration_value(value, at, rule.warmup)) return problem;
      return check_at(value, at, check_leak_warmup(rule.warmup));
    }
    if (auto problem = read_duration_value(value, at, rule.sample)) return problem;
    return check_at(value, at, check_leak_sample(rule.sample));
  };
  return read_rule_table(*table, field, kKeys, "rate", read_part);
}

// requests and age: a max, written alone or in a table with a jitter that defaults to a tenth of
// it. The jitter may come first in the table, so it is checked against max once both are read.
template <class Value, class ReadValue, class CheckMax, class CheckJitter>
TomlProblem read_max_and_jitter(const toml::node& node, std::string_view field,
                                std::string_view expected, ReadValue read_value, CheckMax check_max,
                                CheckJitter check_jitter, Value& max, Value& jitter) {
  static constexpr std::array<std::string_view, 2> kKeys{"max", "jitter"};
  const toml::node* jitter_node = nullptr;
  auto read_part = [&](std::string_view key, const toml::node& value, const std::string& at) {
    if (key == "jitter") {
      jitter_node = &value;
      return read_value(value, at, jitter);
    }
    if (auto problem = read_value(value, at, max)) return problem;
    return check_at(value, at, check_max(max));
  };
  const auto* table = node.as_table();
  TomlProblem problem;
  if (table) {
    problem = read_rule_table(*table, field, kKeys, "max", read_part);
  } else if (node.is_string() || node.is_integer()) {
    problem = read_part("max", node, std::string(field));
  } else {
    return wrong_type(node, field, expected);
  }
  if (problem) return problem;
  if (!jitter_node) {
    jitter = default_jitter(max);
    return std::nullopt;
  }
  return check_at(*jitter_node, sub(field, "jitter"), check_jitter(jitter, max));
}

TomlProblem read_requests(const toml::node& node, std::string_view field, RequestsRule& rule) {
  constexpr std::string_view kExpected = "an integer or a table { max = …, jitter = … }";
  // read_max_and_jitter takes a string as the short form, which only makes sense for age.
  if (node.is_string()) return wrong_type(node, field, kExpected);
  return read_max_and_jitter(node, field, kExpected, read_integer_value, check_requests_max,
                             check_requests_jitter, rule.max, rule.jitter);
}

TomlProblem read_age(const toml::node& node, std::string_view field, AgeRule& rule) {
  return read_max_and_jitter(node, field, "a duration like 6h or a table { max = …, jitter = … }",
                             read_duration_value, check_age_max, check_age_jitter, rule.max,
                             rule.jitter);
}

// Reads into a rule that is set only when the whole of it was read without a problem.
template <class Rule, class Read>
TomlProblem read_rule(const toml::node& node, std::string_view field, std::optional<Rule>& out,
                      Read&& read) {
  Rule rule;
  if (auto problem = read(node, field, rule)) return problem;
  out = rule;
  return std::nullopt;
}

}  // namespace

TomlProblem read_size_rule(const toml::node& node, std::string_view field,
                           std::optional<SizeRule>& out) {
  return read_rule(node, field, out, read_size_parts);
}

toml::source_position size_position(const toml::node& node) {
  const auto* table = node.as_table();
  const toml::node* size = table ? table->get("size") : nullptr;
  return size ? size->source().begin : node.source().begin;
}

TomlProblem read_memory_key(std::string_view key, const toml::node& node, std::string_view path,
                            ServiceConfig& s) {
  MemoryRules& m = s.memory;
  const std::string field = sub(path, key);
  if (key == "interval") {
    if (auto problem = read_duration_value(node, field, m.interval)) return problem;
    return check_at(node, field, check_interval(m.interval));
  }
  if (key == "metric") return read_metric_value(node, field, m.metric);
  if (key == "tree") return read_boolean_value(node, field, m.tree);
  if (key == "surge") return read_boolean_value(node, field, s.surge);
  if (key == "max_recycling") {
    int64_t count = 0;
    if (auto problem = read_integer_value(node, field, count)) return problem;
    if (auto problem = check_at(node, field, check_max_recycling(count))) return problem;
    s.max_recycling = static_cast<int>(count);  // the check bounds it
    return std::nullopt;
  }
  if (key == "warn") return read_size_rule(node, field, m.warn);
  if (key == "critical") return read_size_rule(node, field, m.critical);
  if (key == "total") return read_size_rule(node, field, m.total);
  if (key == "limit") return read_rule(node, field, m.limit, read_limit);
  if (key == "leak") return read_rule(node, field, m.leak, read_leak);
  if (key == "requests") return read_rule(node, field, m.requests, read_requests);
  return read_rule(node, field, m.age, read_age);  // the last of kMemoryKeys
}

}  // namespace memvisor
