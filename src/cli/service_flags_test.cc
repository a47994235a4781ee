// The embedded default's flags: what each memory flag sets, and the message naming the flag for
// each bad value (the same words as the config file, through the same check functions).
#include "cli/service_flags.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <csignal>

namespace memvisor {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;

struct Parsed {
  std::string first_given;
  Result<ServiceConfig> service;
};

Parsed build(std::vector<std::string> args) {
  CLI::App app;
  ServiceFlags flags;
  flags.add_to(app);
  std::reverse(args.begin(), args.end());  // CLI11 wants them last-first
  app.parse(args);
  return Parsed{flags.first_given(app), flags.build({"/usr/bin/app", "--port", "80"})};
}

std::string error_of(std::vector<std::string> args) {
  Parsed parsed = build(std::move(args));
  return parsed.service.ok() ? "built without error" : parsed.service.error().message;
}

TEST(ServiceFlags, EveryMemoryFlag) {
  Parsed parsed = build({"--interval",
                         "250ms",
                         "--metric",
                         "rss",
                         "--tree",
                         "--warn",
                         "400MiB",
                         "--limit",
                         "500MiB",
                         "--limit-for",
                         "5",
                         "--critical",
                         "1GiB",
                         "--total",
                         "2GiB",
                         "--leak",
                         "10MiB/h",
                         "--leak-action",
                         "alert",
                         "--leak-sample",
                         "30s",
                         "--max-requests",
                         "1000",
                         "--requests-jitter",
                         "7",
                         "--max-age",
                         "6h",
                         "--age-jitter",
                         "1m",
                         "--no-surge",
                         "--max-recycling",
                         "2"});
  ASSERT_TRUE(parsed.service.ok()) << parsed.service.error().message;
  const ServiceConfig& s = *parsed.service;
  const MemoryRules& m = s.memory;
  EXPECT_EQ(s.name, "app");
  EXPECT_EQ(m.interval, Millis{250});
  EXPECT_EQ(m.metric, MemoryMetric::rss);
  EXPECT_TRUE(m.tree);
  ASSERT_TRUE(m.warn && m.limit && m.critical && m.total && m.leak && m.requests && m.age);
  EXPECT_EQ(m.warn->size, 400 * kMiB);
  EXPECT_EQ(m.warn->metric, std::nullopt);
  EXPECT_EQ(m.limit->size, 500 * kMiB);
  EXPECT_EQ(m.limit->samples, 5);
  EXPECT_EQ(m.critical->size, 1024 * kMiB);
  EXPECT_EQ(m.total->size, 2048 * kMiB);
  EXPECT_EQ(m.leak->rate_bytes_per_hour, 10 * kMiB);
  EXPECT_EQ(m.leak->action, LeakAction::alert);
  EXPECT_EQ(m.leak->sample, Millis{30'000});
  EXPECT_EQ(m.requests->max, 1000);
  EXPECT_EQ(m.requests->jitter, 7);
  EXPECT_EQ(m.age->max, Millis{21'600'000});
  EXPECT_EQ(m.age->jitter, Millis{60'000});
  EXPECT_FALSE(s.surge);
  EXPECT_EQ(s.max_recycling, 2);
  EXPECT_EQ(parsed.first_given, "--interval");
}

TEST(ServiceFlags, DefaultsAndShortForms) {
  Parsed none = build({});
  ASSERT_TRUE(none.service.ok());
  const ServiceConfig defaults;
  EXPECT_EQ(none.service->memory.interval, defaults.memory.interval);
  EXPECT_EQ(none.service->memory.metric, defaults.memory.metric);
  EXPECT_FALSE(none.service->memory.limit || none.service->memory.leak);
  EXPECT_TRUE(none.service->surge);
  EXPECT_FALSE(none.service->cgroup);
  EXPECT_EQ(none.service->max_recycling, 1);
  EXPECT_EQ(none.first_given, "");

  Parsed short_forms =
      build({"--limit", "1GiB", "--leak", "1MiB/min", "--max-requests", "1000", "--max-age", "6h"});
  ASSERT_TRUE(short_forms.service.ok()) << short_forms.service.error().message;
  const MemoryRules& m = short_forms.service->memory;
  EXPECT_EQ(m.limit->samples, 3);
  EXPECT_EQ(m.leak->action, LeakAction::recycle);
  EXPECT_EQ(m.leak->sample, Millis{0});
  EXPECT_EQ(m.requests->jitter, 100);  // a tenth
  EXPECT_EQ(m.age->jitter, Millis{2'160'000});
  EXPECT_EQ(build({"--no-surge"}).first_given, "--no-surge");
  Parsed cgroup = build({"--cgroup"});
  ASSERT_TRUE(cgroup.service.ok());
  EXPECT_TRUE(cgroup.service->cgroup);
  EXPECT_EQ(cgroup.first_given, "--cgroup");
}

TEST(ServiceFlags, Prefork) {
  Parsed parsed = build({"--prefork", "--prefork-signal", "SIGQUIT", "--prefork-timeout", "7s"});
  ASSERT_TRUE(parsed.service.ok()) << parsed.service.error().message;
  EXPECT_TRUE(parsed.service->prefork);
  EXPECT_EQ(parsed.service->prefork_signal, SIGQUIT);
  EXPECT_EQ(parsed.service->prefork_timeout, Millis(7000));
  EXPECT_EQ(parsed.first_given, "--prefork");
  Parsed plain = build({});
  ASSERT_TRUE(plain.service.ok());
  EXPECT_FALSE(plain.service->prefork);
  EXPECT_EQ(plain.service->prefork_signal, SIGTERM);
  EXPECT_EQ(plain.service->prefork_timeout, Millis(30000));
  EXPECT_EQ(error_of({"--prefork-signal", "SIGFOO"}),
            "--prefork-signal: expected a signal name like SIGINT, got 'SIGFOO'");
  EXPECT_EQ(error_of({"--prefork-timeout", "0s"}),
            "--prefork-timeout: expected a duration greater than 0, got 0");
}

TEST(ServiceFlags, BadValuesNameTheFlag) {
  EXPECT_EQ(error_of({"--warn", "2XB"}),
            "--warn: expected a size like 500MiB, 2GB or 1.5GiB, got '2XB'");
  EXPECT_EQ(error_of({"--limit", "500 MiB"}),
            "--limit: expected a size like 500MiB, 2GB or 1.5GiB, got '500 MiB'");
  EXPECT_EQ(error_of({"--critical", "0GiB"}), "--critical: expected a size greater than 0, got 0B");
  EXPECT_EQ(error_of({"--total", "-1GiB"}),
            "--total: expected a size like 500MiB, 2GB or 1.5GiB, got '-1GiB'");
  EXPECT_EQ(error_of({"--leak", "fast"}),
            "--leak: expected a rate like 10MiB/h, 1MiB/min or 100KiB/s, got 'fast'");
  EXPECT_EQ(error_of({"--leak", "0KiB/s"}), "--leak: expected a rate greater than 0, got 0B/h");
  EXPECT_EQ(error_of({"--interval", "10ms"}),
            "--interval: expected a duration of at least 100ms, got 10ms");
  EXPECT_EQ(error_of({"--interval", "soon"}),
            "--interval: expected a duration like 100ms, 10s, 5m or 1h, got 'soon'");
  EXPECT_EQ(
      error_of({"--metric", "vss"}),
      "--metric: expected one of pss, rss, uss, anon, swap, cgroup, or gauge:NAME, got 'vss'");
  EXPECT_EQ(error_of({"--limit", "1GiB", "--limit-for", "0"}),
            "--limit-for: expected a positive integer, got 0");
  EXPECT_EQ(error_of({"--limit", "1GiB", "--limit-for", "three"}),
            "--limit-for: expected an integer, got 'three'");
  EXPECT_EQ(error_of({"--leak", "1MiB/h", "--leak-action", "restart"}),
            "--leak-action: expected one of recycle, alert, got 'restart'");
  EXPECT_EQ(error_of({"--leak", "1MiB/h", "--leak-sample", "2h"}),
            "--leak-sample: expected a duration of at most 1h, got 2h");
  EXPECT_EQ(error_of({"--max-requests", "0"}),
            "--max-requests: expected a positive integer, got 0");
  EXPECT_EQ(error_of({"--max-requests", "10", "--requests-jitter", "11"}),
            "--requests-jitter: expected between 0 and max (10), got 11");
  EXPECT_EQ(error_of({"--max-age", "0"}), "--max-age: expected a duration greater than 0, got 0");
  EXPECT_EQ(error_of({"--max-age", "1h", "--age-jitter", "61m"}),
            "--age-jitter: expected a duration between 0 and max (1h), got 1h1m");
  EXPECT_EQ(error_of({"--max-recycling", "0"}),
            "--max-recycling: expected a positive integer, got 0");
}

TEST(ServiceFlags, RefinementsNeedTheirRule) {
  EXPECT_EQ(error_of({"--limit-for", "3"}), "--limit-for: only applies together with --limit");
  EXPECT_EQ(error_of({"--leak-action", "alert"}),
            "--leak-action: only applies together with --leak");
  EXPECT_EQ(error_of({"--leak-sample", "10s"}), "--leak-sample: only applies together with --leak");
  EXPECT_EQ(error_of({"--requests-jitter", "3"}),
            "--requests-jitter: only applies together with --max-requests");
  EXPECT_EQ(error_of({"--age-jitter", "1m"}), "--age-jitter: only applies together with --max-age");
}

TEST(ServiceFlags, SizesInOrder) {
  EXPECT_EQ(error_of({"--warn", "2GiB", "--critical", "1GiB"}),
            "--critical: expected at least warn (2GiB), got 1GiB");
  EXPECT_EQ(error_of({"--limit", "600MiB", "--warn", "700MiB"}),
            "--limit: expected at least warn (700MiB), got 600MiB");
  EXPECT_EQ(error_of({"--warn", "1GiB", "--limit", "1GiB", "--critical", "1GiB"}),
            "built without error");
}

}  // namespace
}  // namespace memvisor
