// parse_config on bad memory keys: the exact message with line:column, one per problem.
#include <gtest/gtest.h>

#include "core/config/config_parse.h"

#include "core/config/config_test_text.h"

namespace memvisor {
namespace {

TEST(MemoryConfigErrors, MalformedSizes) {
  const std::string expected = "expected a size like 500MiB, 2GB or 1.5GiB, got ";
  EXPECT_EQ(config_error(web_service("warn = \"500 MiB\"\n")),
            "web.toml:3:8: service.web.warn: " + expected + "'500 MiB'");
  EXPECT_EQ(config_error(web_service("limit = \"2XB\"\n")),
            "web.toml:3:9: service.web.limit: " + expected + "'2XB'");
  EXPECT_EQ(config_error(web_service("critical = \"-1GiB\"\n")),
            "web.toml:3:12: service.web.critical: " + expected + "'-1GiB'");
  EXPECT_EQ(config_error(web_service("total = { size = \"1.5.5GiB\" }\n")),
            "web.toml:3:18: service.web.total.size: " + expected + "'1.5.5GiB'");
  EXPECT_EQ(config_error(web_service("warn = \"500mb\"\n")),
            "web.toml:3:8: service.web.warn: " + expected + "'500mb'");
  EXPECT_EQ(config_error(web_service("limit = \"99999999TiB\"\n")),
            "web.toml:3:9: service.web.limit: expected a size below 16 EiB, got '99999999TiB'");
  EXPECT_EQ(config_error("[supervisor]\ntotal = \"lots\"\n" + web_service("")),
            "web.toml:2:9: supervisor.total: " + expected + "'lots'");
}

TEST(MemoryConfigErrors, SizesNeedAUnitAndMustBePositive) {
  EXPECT_EQ(
      config_error(web_service("warn = 500\n")),
      "web.toml:3:8: service.web.warn: expected a size like 500MiB, got 500 — write the unit");
  EXPECT_EQ(config_error(web_service("limit = { size = 0 }\n")),
            "web.toml:3:18: service.web.limit.size: expected a size like 500MiB, got 0 — write "
            "the unit");
  EXPECT_EQ(config_error(web_service("critical = \"0GiB\"\n")),
            "web.toml:3:12: service.web.critical: expected a size greater than 0, got 0B");
  EXPECT_EQ(config_error("[supervisor]\ntotal = { size = \"0\" }\n" + web_service("")),
            "web.toml:2:18: supervisor.total.size: expected a size greater than 0, got 0B");
}

TEST(MemoryConfigErrors, WrongTypes) {
  EXPECT_EQ(config_error(web_service("warn = true\n")),
            "web.toml:3:8: service.web.warn: expected a size like 500MiB or a table { size = …, "
            "metric = … }, got a boolean");
  EXPECT_EQ(config_error(web_service("limit = [\"1GiB\"]\n")),
            "web.toml:3:9: service.web.limit: expected a size like 500MiB or a table { size = …, "
            "for = …, metric = … }, got an array");
  EXPECT_EQ(config_error(web_service("leak = 10\n")),
            "web.toml:3:8: service.web.leak: expected a rate like 10MiB/h or a table { rate = …, "
            "action = …, sample = …, metric = … }, got an integer");
  EXPECT_EQ(config_error(web_service("requests = \"1000\"\n")),
            "web.toml:3:12: service.web.requests: expected an integer or a table { max = …, "
            "jitter = … }, got a string");
  EXPECT_EQ(config_error(web_service("age = 1.5\n")),
            "web.toml:3:7: service.web.age: expected a duration like 6h or a table { max = …, "
            "jitter = … }, got a float");
  EXPECT_EQ(config_error(web_service("limit = { size = \"1GiB\", for = \"3\" }\n")),
            "web.toml:3:32: service.web.limit.for: expected an integer, got a string");
  EXPECT_EQ(config_error(web_service("total = { size = 1.5 }\n")),
            "web.toml:3:18: service.web.total.size: expected a size like 500MiB, 2GB or 1.5GiB, "
            "got a float");
  EXPECT_EQ(config_error(web_service("leak = { rate = 10 }\n")),
            "web.toml:3:17: service.web.leak.rate: expected a rate like 10MiB/h, 1MiB/min or "
            "100KiB/s, got an integer");
  EXPECT_EQ(config_error(web_service("tree = \"yes\"\n")),
            "web.toml:3:8: service.web.tree: expected a boolean, got a string");
  EXPECT_EQ(config_error(web_service("surge = 1\n")),
            "web.toml:3:9: service.web.surge: expected a boolean, got an integer");
  EXPECT_EQ(config_error(web_service("max_recycling = \"2\"\n")),
            "web.toml:3:17: service.web.max_recycling: expected an integer, got a string");
  EXPECT_EQ(config_error(web_service("interval = 5\n")),
            "web.toml:3:12: service.web.interval: expected a duration like 100ms, 10s, 5m or 1h, "
            "got 5");
  EXPECT_EQ(config_error("[supervisor]\ntotal = 4\n" + web_service("")),
            "web.toml:2:9: supervisor.total: expected a size like 500MiB, got 4 — write the unit");
}

TEST(MemoryConfigErrors, Enums) {
  EXPECT_EQ(config_error(web_service("metric = \"PSS\"\n")),
            "web.toml:3:10: service.web.metric: expected one of pss, rss, uss, anon, swap, "
            "cgroup, or gauge:NAME, got 'PSS'");
  EXPECT_EQ(config_error(web_service("warn = { size = \"1GiB\", metric = \"vss\" }\n")),
            "web.toml:3:34: service.web.warn.metric: expected one of pss, rss, uss, anon, swap, "
            "cgroup, or gauge:NAME, got 'vss'");
  EXPECT_EQ(config_error(web_service("leak = { rate = \"1MiB/h\", action = \"restart\" }\n")),
            "web.toml:3:36: service.web.leak.action: expected one of recycle, alert, got "
            "'restart'");
  EXPECT_EQ(config_error(web_service("metric = 1\n")),
            "web.toml:3:10: service.web.metric: expected one of pss, rss, uss, anon, swap, "
            "cgroup, or gauge:NAME, got an integer");
}

TEST(MemoryConfigErrors, UnknownAndMissingKeys) {
  EXPECT_EQ(config_error(web_service("limit = { size = \"1GiB\", fro = 3 }\n")),
            "web.toml:3:26: unknown key 'fro' in service.web.limit; did you mean 'for'?");
  EXPECT_EQ(config_error(web_service("leak = { rate = \"1MiB/h\", acton = \"alert\" }\n")),
            "web.toml:3:27: unknown key 'acton' in service.web.leak; did you mean 'action'?");
  EXPECT_EQ(config_error(web_service("requests = { max = 5, banana = 1 }\n")),
            "web.toml:3:23: unknown key 'banana' in service.web.requests");
  EXPECT_EQ(config_error(web_service("[service.web.age]\nmax = \"1h\"\njiter = \"1m\"\n")),
            "web.toml:5:1: unknown key 'jiter' in [service.web.age]; did you mean 'jitter'?");
  EXPECT_EQ(config_error("[supervisor]\ntotal = { sise = \"1GiB\" }\n" + web_service("")),
            "web.toml:2:11: unknown key 'sise' in supervisor.total; did you mean 'size'?");
  EXPECT_EQ(config_error(web_service("limits = \"1GiB\"\n")),
            "web.toml:3:1: unknown key 'limits' in [service.web]; did you mean 'limit'?");
  // README names the leak rule's keys on their own (`warmup = "30m"`): said where they go.
  EXPECT_EQ(config_error(web_service("warmup = \"2h\"\n")),
            "web.toml:3:1: unknown key 'warmup' in [service.web]; it is a key of the leak "
            "rule: leak = { rate = \"10MiB/h\", warmup = \"30m\" }");
  EXPECT_EQ(config_error(web_service("rate = \"10MiB/h\"\n")),
            "web.toml:3:1: unknown key 'rate' in [service.web]; it is a key of the leak rule: "
            "leak = { rate = \"10MiB/h\", warmup = \"30m\" }");
  EXPECT_EQ(config_error(web_service("max_recyling = 2\n")),
            "web.toml:3:1: unknown key 'max_recyling' in [service.web]; did you mean "
            "'max_recycling'?");
  EXPECT_EQ(config_error("[supervisor]\ntotl = \"1GiB\"\n"),
            "web.toml:2:1: unknown key 'totl' in [supervisor]; did you mean 'total'?");
  EXPECT_EQ(config_error(web_service("limit = { for = 3 }\n")),
            "web.toml:3:9: service.web.limit: missing required key 'size'");
  EXPECT_EQ(config_error(web_service("leak = { rate = \"1MiB/h\", warmup = \"8d\" }\n")),
            "web.toml:3:36: service.web.leak.warmup: expected a duration of at most 7d, got 8d");
  EXPECT_EQ(config_error(web_service("leak = { action = \"alert\" }\n")),
            "web.toml:3:8: service.web.leak: missing required key 'rate'");
  EXPECT_EQ(config_error(web_service("requests = { jitter = 5 }\n")),
            "web.toml:3:12: service.web.requests: missing required key 'max'");
  EXPECT_EQ(config_error(web_service("age = {}\n")),
            "web.toml:3:7: service.web.age: missing required key 'max'");
}

TEST(MemoryConfigErrors, Ranges) {
  EXPECT_EQ(config_error(web_service("interval = \"50ms\"\n")),
            "web.toml:3:12: service.web.interval: expected a duration of at least 100ms, got 50ms");
  EXPECT_EQ(config_error(web_service("interval = \"1h1ms\"\n")),
            "web.toml:3:12: service.web.interval: expected a duration of at most 1h, got 1h1ms");
  EXPECT_EQ(config_error(web_service("limit = { size = \"1GiB\", for = 0 }\n")),
            "web.toml:3:32: service.web.limit.for: expected a positive integer, got 0");
  EXPECT_EQ(config_error(web_service("limit = { size = \"1GiB\", for = 1000001 }\n")),
            "web.toml:3:32: service.web.limit.for: expected at most 1000000 samples, got 1000001");
  EXPECT_EQ(config_error(web_service("leak = \"fast\"\n")),
            "web.toml:3:8: service.web.leak: expected a rate like 10MiB/h, 1MiB/min or 100KiB/s, "
            "got 'fast'");
  EXPECT_EQ(config_error(web_service("leak = \"0MiB/h\"\n")),
            "web.toml:3:8: service.web.leak: expected a rate greater than 0, got 0B/h");
  EXPECT_EQ(config_error(web_service("leak = { rate = \"1MiB/h\", sample = \"2h\" }\n")),
            "web.toml:3:36: service.web.leak.sample: expected a duration of at most 1h, got 2h");
  EXPECT_EQ(config_error(web_service("requests = 0\n")),
            "web.toml:3:12: service.web.requests: expected a positive integer, got 0");
  EXPECT_EQ(config_error(web_service("requests = { max = -5 }\n")),
            "web.toml:3:20: service.web.requests.max: expected a positive integer, got -5");
  EXPECT_EQ(config_error(web_service("requests = 9223372036854775807\n")),
            "web.toml:3:12: service.web.requests: expected at most 4611686018427387903, got "
            "9223372036854775807");
  EXPECT_EQ(config_error(web_service("requests = { jitter = 2000, max = 1000 }\n")),
            "web.toml:3:23: service.web.requests.jitter: expected between 0 and max (1000), got "
            "2000");
  EXPECT_EQ(config_error(web_service("requests = { max = 10, jitter = -1 }\n")),
            "web.toml:3:33: service.web.requests.jitter: expected between 0 and max (10), got -1");
  EXPECT_EQ(config_error(web_service("age = \"0s\"\n")),
            "web.toml:3:7: service.web.age: expected a duration greater than 0, got 0");
  EXPECT_EQ(config_error(web_service("age = { max = \"1h\", jitter = \"2h\" }\n")),
            "web.toml:3:30: service.web.age.jitter: expected a duration between 0 and max (1h), "
            "got 2h");
  EXPECT_EQ(config_error(web_service("max_recycling = 0\n")),
            "web.toml:3:17: service.web.max_recycling: expected a positive integer, got 0");
  EXPECT_EQ(config_error(web_service("max_recycling = 1001\n")),
            "web.toml:3:17: service.web.max_recycling: expected at most 1000, got 1001");
}

TEST(MemoryConfigErrors, SizesOutOfOrderBlameTheLaterKey) {
  EXPECT_EQ(config_error(web_service("warn = \"2GiB\"\ncritical = \"1GiB\"\n")),
            "web.toml:4:12: service.web.critical: expected at least warn (2GiB), got 1GiB");
  EXPECT_EQ(config_error(web_service("critical = \"1GiB\"\nwarn = \"2GiB\"\n")),
            "web.toml:4:8: service.web.warn: expected at most critical (1GiB), got 2GiB");
  EXPECT_EQ(
      config_error(web_service("limit = { for = 2, size = \"600MiB\" }\nwarn = \"700MiB\"\n")),
      "web.toml:4:8: service.web.warn: expected at most limit (600MiB), got 700MiB");
  EXPECT_EQ(
      config_error(web_service("warn = \"700MiB\"\nlimit = { for = 2, size = \"600MiB\" }\n")),
      "web.toml:4:27: service.web.limit: expected at least warn (700MiB), got 600MiB");
  EXPECT_EQ(config_error(web_service("limit = \"1.5GiB\"\n\ncritical = { size = \"1GiB\" }\n")),
            "web.toml:5:21: service.web.critical: expected at least limit (1.5GiB), got 1GiB");
  // The same metric, once by default and once written out, still compares.
  EXPECT_EQ(config_error(
                web_service("warn = { size = \"2GiB\", metric = \"pss\" }\ncritical = \"1GiB\"\n")),
            "web.toml:4:12: service.web.critical: expected at least warn (2GiB), got 1GiB");
}

}  // namespace
}  // namespace memvisor
