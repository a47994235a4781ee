// parse_config on the memory keys: every key, the short forms, the defaults they imply, and the
// JSON round trip of all of them.
#include <gtest/gtest.h>

#include "core/config/config_json.h"
#include "core/config/config_parse.h"
#include "core/config/config_validate.h"

#include "core/config/config_test_text.h"

namespace memvisor {
namespace {

constexpr uint64_t kMiB = uint64_t{1} << 20;
constexpr uint64_t kGiB = uint64_t{1} << 30;

// The memory rules of one service "web" with `rest` as its further keys.
ServiceConfig web_parsed(std::string_view rest) {
  Config config = config_ok("[service.web]\ncommand = [\"app\"]\n" + std::string(rest));
  return config.services.empty() ? ServiceConfig{} : config.services[0];
}

TEST(MemoryConfig, EveryKeyInTableForm) {
  Config config = config_ok(R"([supervisor]
total = { size = "4GiB", metric = "rss" }

[service.web]
command = ["app"]
instances = 4
interval = "250ms"
metric = "uss"
tree = true
warn = { size = "400MiB", metric = "rss" }
limit = { size = "500MiB", for = 5, metric = "pss" }
critical = { size = "1GiB" }
total = { size = "2GiB", metric = "cgroup" }
leak = { rate = "10MiB/h", action = "alert", sample = "30s", metric = "anon", warmup = "2m" }
requests = { max = 1000, jitter = 250 }
age = { max = "6h", jitter = "30m" }
surge = false
max_recycling = 2
)");
  ASSERT_TRUE(config.supervisor.total);
  EXPECT_EQ(config.supervisor.total->size, 4 * kGiB);
  EXPECT_EQ(config.supervisor.total->metric, MemoryMetric::rss);
  ASSERT_EQ(config.services.size(), 1u);
  const ServiceConfig& s = config.services[0];
  const MemoryRules& m = s.memory;
  EXPECT_EQ(m.interval, Millis{250});
  EXPECT_EQ(m.metric, MemoryMetric::uss);
  EXPECT_TRUE(m.tree);
  ASSERT_TRUE(m.warn && m.limit && m.critical && m.total && m.leak && m.requests && m.age);
  EXPECT_EQ(m.warn->size, 400 * kMiB);
  EXPECT_EQ(m.warn->metric, MemoryMetric::rss);
  EXPECT_EQ(m.limit->size, 500 * kMiB);
  EXPECT_EQ(m.limit->samples, 5);
  EXPECT_EQ(m.limit->metric, MemoryMetric::pss);
  EXPECT_EQ(m.critical->size, kGiB);
  EXPECT_EQ(m.critical->metric, std::nullopt);
  EXPECT_EQ(m.total->size, 2 * kGiB);
  EXPECT_EQ(m.total->metric, MemoryMetric::cgroup);
  EXPECT_EQ(m.leak->rate_bytes_per_hour, 10 * kMiB);
  EXPECT_EQ(m.leak->action, LeakAction::alert);
  EXPECT_EQ(m.leak->sample, Millis{30'000});
  EXPECT_EQ(m.leak->metric, MemoryMetric::anon);
  EXPECT_EQ(m.leak->warmup, Millis{120'000});
  EXPECT_EQ(m.requests->max, 1000);
  EXPECT_EQ(m.requests->jitter, 250);
  EXPECT_EQ(m.age->max, Millis{6 * 3'600'000});
  EXPECT_EQ(m.age->jitter, Millis{30 * 60'000});
  EXPECT_FALSE(s.surge);
  EXPECT_EQ(s.max_recycling, 2);
  EXPECT_TRUE(validate_config(config).ok());
  EXPECT_EQ(describe_config(config),
            "ok: web.toml: 1 service, 4 instances (web ×4 [warn 400MiB, limit 500MiB, critical "
            "1GiB, total 2GiB, leak 10MiB/h, requests 1000, age 6h]), total 4GiB");
}

TEST(MemoryConfig, ShortForms) {
  ServiceConfig s = web_parsed(R"(warn = "400MiB"
limit = "1.5GiB"
critical = "2GB"
total = "8GiB"
leak = "1MiB/min"
requests = 1000
age = "6h"
)");
  const MemoryRules& m = s.memory;
  ASSERT_TRUE(m.warn && m.limit && m.critical && m.total && m.leak && m.requests && m.age);
  EXPECT_EQ(m.warn->size, 400 * kMiB);
  EXPECT_EQ(m.warn->metric, std::nullopt);  // the service's metric
  EXPECT_EQ(m.limit->size, 1536 * kMiB);
  EXPECT_EQ(m.limit->samples, 3);
  EXPECT_EQ(m.critical->size, 2'000'000'000u);
  EXPECT_EQ(m.total->size, 8 * kGiB);
  EXPECT_EQ(m.leak->rate_bytes_per_hour, 60 * kMiB);
  EXPECT_EQ(m.leak->action, LeakAction::recycle);
  EXPECT_EQ(m.leak->sample, Millis{0});
  EXPECT_EQ(m.leak->warmup, Millis{1'800'000});
  EXPECT_EQ(m.requests->max, 1000);
  EXPECT_EQ(m.requests->jitter, 100);  // max / 10
  EXPECT_EQ(m.age->max, Millis{6 * 3'600'000});
  EXPECT_EQ(m.age->jitter, Millis{36 * 60'000});  // max / 10
}

TEST(MemoryConfig, DefaultsMatchTheModel) {
  ServiceConfig s = web_parsed("");
  const ServiceConfig defaults;
  EXPECT_EQ(s.memory.interval, defaults.memory.interval);
  EXPECT_EQ(s.memory.interval, Millis{1000});
  EXPECT_EQ(s.memory.metric, MemoryMetric::pss);
  EXPECT_FALSE(s.memory.tree);
  EXPECT_FALSE(s.memory.warn || s.memory.limit || s.memory.critical || s.memory.total ||
               s.memory.leak || s.memory.requests || s.memory.age);
  EXPECT_TRUE(s.surge);
  EXPECT_EQ(s.max_recycling, 1);
  EXPECT_FALSE(config_ok("[service.web]\ncommand = [\"app\"]\n").supervisor.total);
}

TEST(MemoryConfig, PartialTablesTakeDefaults) {
  ServiceConfig s = web_parsed(R"(limit = { size = "500MiB" }
leak = { rate = "10MiB/h", sample = "0" }
requests = { max = 5 }
age = { jitter = "0", max = "1h" }
)");
  EXPECT_EQ(s.memory.limit->samples, 3);
  EXPECT_EQ(s.memory.leak->sample, Millis{0});
  EXPECT_EQ(s.memory.requests->jitter, 0);  // 5 / 10, rounded down
  EXPECT_EQ(s.memory.age->jitter, Millis{0});
  // The jitter may come first and may equal max.
  EXPECT_EQ(web_parsed("requests = { jitter = 7, max = 7 }\n").memory.requests->jitter, 7);
}

TEST(MemoryConfig, BoundsAreInclusive) {
  EXPECT_EQ(web_parsed("interval = \"100ms\"\n").memory.interval, Millis{100});
  EXPECT_EQ(web_parsed("interval = \"1h\"\n").memory.interval, Millis{3'600'000});
  EXPECT_EQ(web_parsed("limit = { size = \"1B\", for = 1000000 }\n").memory.limit->samples,
            1'000'000);
  EXPECT_EQ(web_parsed("leak = { rate = \"1B/h\", sample = \"1h\" }\n").memory.leak->sample,
            Millis{3'600'000});
  EXPECT_EQ(web_parsed("max_recycling = 1000\n").max_recycling, 1000);
  EXPECT_EQ(web_parsed("age = \"3650d\"\n").memory.age->max, Millis{3650LL * 86'400'000});
}

TEST(MemoryConfig, SizesInOrderOrOnOtherMetrics) {
  ServiceConfig equal = web_parsed("warn = \"1GiB\"\nlimit = \"1GiB\"\ncritical = \"1GiB\"\n");
  EXPECT_EQ(equal.memory.warn->size, equal.memory.critical->size);
  // Different metrics do not compare: RSS counts shared pages that PSS divides.
  ServiceConfig other =
      web_parsed("warn = { size = \"2GiB\", metric = \"rss\" }\ncritical = \"1GiB\"\n");
  EXPECT_EQ(other.memory.warn->size, 2 * kGiB);
  ServiceConfig by_default = web_parsed(
      "metric = \"rss\"\nwarn = { size = \"2GiB\", metric = \"pss\" }\ncritical = \"1GiB\"\n");
  EXPECT_EQ(by_default.memory.critical->size, kGiB);
  // The limit on another metric does not hide warn above critical.
  EXPECT_EQ(parse_config("[service.web]\ncommand = [\"app\"]\nwarn = \"2GiB\"\nlimit = { size = "
                         "\"4GiB\", metric = \"rss\" }\ncritical = \"1GiB\"\n",
                         "web.toml")
                .error()
                .message,
            "web.toml:5:12: service.web.critical: expected at least warn (2GiB), got 1GiB");
}

TEST(MemoryConfig, SubTablesAndDottedKeys) {
  Config config = config_ok(R"([service.web]
command = ["app"]
limit.size = "500MiB"
limit.for = 2
[service.web.leak]
rate = "5MiB/h"
action = "alert"
)");
  const MemoryRules& m = config.services[0].memory;
  EXPECT_EQ(m.limit->size, 500 * kMiB);
  EXPECT_EQ(m.limit->samples, 2);
  EXPECT_EQ(m.leak->action, LeakAction::alert);
}

TEST(MemoryConfig, JsonRoundTripKeepsEveryRule) {
  Config config = config_ok(R"([supervisor]
total = "4GiB"
[service.web]
command = ["app"]
interval = "250ms"
metric = "swap"
tree = true
warn = "400MiB"
limit = { size = "500MiB", for = 5, metric = "rss" }
critical = { size = "1GiB", metric = "pss" }
total = { size = "2GiB", metric = "cgroup" }
leak = { rate = "10MiB/h", action = "alert", sample = "30s", metric = "uss" }
requests = { max = 9223372036854775, jitter = 3 }
age = { max = "6h", jitter = "1ms" }
surge = false
max_recycling = 3
[service.bare]
command = ["app"]
)");
  auto back = config_from_json(nlohmann::json::parse(config_to_json(config).dump()));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_EQ(config_to_json(*back), config_to_json(config));
  const MemoryRules& a = config.services[0].memory;
  const MemoryRules& b = back->services[0].memory;
  EXPECT_EQ(b.interval, a.interval);
  EXPECT_EQ(b.metric, a.metric);
  EXPECT_EQ(b.tree, a.tree);
  EXPECT_EQ(b.warn->size, a.warn->size);
  EXPECT_EQ(b.warn->metric, std::nullopt);
  EXPECT_EQ(b.limit->samples, 5);
  EXPECT_EQ(b.limit->metric, MemoryMetric::rss);
  EXPECT_EQ(b.critical->metric, MemoryMetric::pss);
  EXPECT_EQ(b.total->metric, MemoryMetric::cgroup);
  EXPECT_EQ(b.leak->rate_bytes_per_hour, a.leak->rate_bytes_per_hour);
  EXPECT_EQ(b.leak->action, LeakAction::alert);
  EXPECT_EQ(b.leak->sample, Millis{30'000});
  EXPECT_EQ(b.leak->metric, MemoryMetric::uss);
  EXPECT_EQ(b.requests->max, 9223372036854775);
  EXPECT_EQ(b.requests->jitter, 3);
  EXPECT_EQ(b.age->max, a.age->max);
  EXPECT_EQ(b.age->jitter, Millis{1});
  EXPECT_FALSE(back->services[0].surge);
  EXPECT_EQ(back->services[0].max_recycling, 3);
  EXPECT_EQ(back->supervisor.total->size, 4 * kGiB);
  EXPECT_EQ(back->supervisor.total->metric, std::nullopt);
  const MemoryRules& bare = back->services[1].memory;
  EXPECT_FALSE(bare.warn || bare.limit || bare.critical || bare.total || bare.leak ||
               bare.requests || bare.age);
  EXPECT_TRUE(back->services[1].surge);
}

}  // namespace
}  // namespace memvisor
