// validate_config on hand-built configs, and proof that parse_config rejects the same values with
// the same words (plus a position).
#include "core/config/config_validate.h"

#include <gtest/gtest.h>

#include <functional>

#include "core/config/config_parse.h"
#include "core/units.h"

namespace memvisor {
namespace {

Config one_service() {
  Config config;
  config.source = "command line";
  ServiceConfig& s = config.services.emplace_back();
  s.name = "web";
  s.command = {"app"};
  return config;
}

std::string problem(const std::function<void(ServiceConfig&)>& change) {
  Config config = one_service();
  change(config.services[0]);
  Status status = validate_config(config);
  return status.ok() ? "valid" : status.error().message;
}

TEST(ValidateConfig, DefaultsAreValid) {
  EXPECT_TRUE(validate_config(one_service()).ok());
}

TEST(ValidateConfig, FieldMessagesStartWithThePath) {
  EXPECT_EQ(problem([](auto& s) { s.instances = 0; }),
            "service.web.instances: expected a positive integer, got 0");
  EXPECT_EQ(problem([](auto& s) { s.instances = 1001; }),
            "service.web.instances: expected at most 1000 instances, got 1001");
  EXPECT_EQ(problem([](auto& s) { s.circuit_failures = -1; }),
            "service.web.circuit_failures: expected a positive integer, got -1");
  EXPECT_EQ(problem([](auto& s) { s.command.clear(); }),
            "service.web.command: expected a non-empty array of strings, got an empty array");
  EXPECT_EQ(problem([](auto& s) {
              s.command = {"", "x"};
            }),
            "service.web.command[0]: expected a program name, got ''");
  EXPECT_EQ(problem([](auto& s) {
              s.command = {"a", std::string("b\0c", 3)};
            }),
            "service.web.command[1]: expected a string without NUL characters");
  EXPECT_EQ(problem([](auto& s) { s.env["A=B"] = "1"; }),
            "service.web.env: expected a variable name without '=', got 'A=B'");
  EXPECT_EQ(problem([](auto& s) { s.env["my var"] = std::string(1, '\0'); }),
            "service.web.env.\"my var\": expected a string without NUL characters");
  EXPECT_EQ(problem([](auto& s) { s.restart_backoff = 0.99; }),
            "service.web.restart_backoff: expected a number of at least 1, got 0.99");
  EXPECT_EQ(problem([](auto& s) { s.stop_signal = 65; }),
            "service.web.stop_signal: expected a signal between 1 and 64, got 65");
  EXPECT_EQ(problem([](auto& s) { s.stop_timeout = Millis{0}; }),
            "service.web.stop_timeout: expected a duration greater than 0, got 0");
  EXPECT_EQ(problem([](auto& s) { s.restart_delay = Millis{-5}; }),
            "service.web.restart_delay: expected a duration of at least 0, got -5ms");
  EXPECT_EQ(problem([](auto& s) { s.watchdog = kMaxDuration + Millis{1}; }),
            "service.web.watchdog: expected a duration of at most 3650d, got 3650d1ms");
  EXPECT_EQ(problem([](auto& s) { s.restart_delay = Millis{90'000}; }),
            "service.web.restart_delay_max: expected at least restart_delay (1m30s), got 1m");
  EXPECT_EQ(problem([](auto& s) { s.restart = static_cast<RestartPolicy>(9); }),
            "service.web.restart: expected a policy");
  EXPECT_EQ(problem([](auto& s) { s.watchdog = Millis{0}; }), "valid");
  EXPECT_EQ(problem([](auto& s) { s.restart_delay = s.restart_delay_max = Millis{0}; }), "valid");
}

TEST(ValidateConfig, Names) {
  EXPECT_EQ(problem([](auto& s) { s.name = ""; }),
            "service.\"\": expected a service name of letters, digits, '_' and '-' (at most 64 "
            "characters), got ''");
  EXPECT_EQ(problem([](auto& s) { s.name = "a\"b"; }),
            "service.\"a\\\"b\": expected a service name of letters, digits, '_' and '-' (at "
            "most 64 characters), got 'a\"b'");
  Config twice = one_service();
  twice.services.push_back(twice.services[0]);
  EXPECT_EQ(validate_config(twice).error().message, "service.web: service defined twice");
}

TEST(ValidateConfig, WholeConfig) {
  Config empty;
  EXPECT_EQ(validate_config(empty).error().message,
            "no services defined; add a [service.NAME] table");
  Config config = one_service();
  config.supervisor.state_dir = std::string("/x\0y", 4);
  EXPECT_EQ(validate_config(config).error().message,
            "supervisor.state_dir: expected a string without NUL characters");
}

// Each case is one TOML line for [service.web] and the same value set on the model: both paths
// must reject it with the same message, parse_config adding only the position.
TEST(ValidateConfig, ParseConfigRejectsTheSameThings) {
  struct Case {
    std::string toml;
    std::function<void(ServiceConfig&)> change;
  };
  const std::vector<Case> cases = {
      {"instances = 0", [](auto& s) { s.instances = 0; }},
      {"instances = 5000", [](auto& s) { s.instances = 5000; }},
      {"circuit_failures = 0", [](auto& s) { s.circuit_failures = 0; }},
      {"restart_backoff = 0.5", [](auto& s) { s.restart_backoff = 0.5; }},
      {"stop_signal = 70", [](auto& s) { s.stop_signal = 70; }},
      {"stop_timeout = \"0\"", [](auto& s) { s.stop_timeout = Millis{0}; }},
      {"kill_timeout = \"0ms\"", [](auto& s) { s.kill_timeout = Millis{0}; }},
      {"startup_timeout = \"0s\"", [](auto& s) { s.startup_timeout = Millis{0}; }},
      {"circuit_cooldown = \"0m\"", [](auto& s) { s.circuit_cooldown = Millis{0}; }},
      {"command = [\"\"]", [](auto& s) { s.command = {""}; }},
      {"command = []", [](auto& s) { s.command = {}; }},
      {"cwd = \"a\\u0000\"", [](auto& s) { s.cwd = std::string("a\0", 2); }},
      {"user = \"\\u0000\"", [](auto& s) { s.user = std::string(1, '\0'); }},
      {"log_dir = \"\\u0000\"", [](auto& s) { s.log_dir = std::string(1, '\0'); }},
      {"env = { \"X=Y\" = \"1\" }", [](auto& s) { s.env["X=Y"] = "1"; }},
      {"restart_delay_max = \"1s\"\nrestart_delay = \"2s\"",
       [](auto& s) {
         s.restart_delay_max = Millis{1000};
         s.restart_delay = Millis{2000};
       }},
      {"interval = \"50ms\"", [](auto& s) { s.memory.interval = Millis{50}; }},
      {"interval = \"2h\"", [](auto& s) { s.memory.interval = Millis{7'200'000}; }},
      {"warn = { size = \"0B\" }",
       [](auto& s) {
         s.memory.warn = SizeRule{0, {}};
       }},
      {"total = { size = \"0MiB\", metric = \"rss\" }",
       [](auto& s) {
         s.memory.total = SizeRule{0, MemoryMetric::rss};
       }},
      {"limit = { size = \"1GiB\", for = 0 }",
       [](auto& s) {
         s.memory.limit = LimitRule{1u << 30, 0, {}};
       }},
      {"limit = { size = \"1GiB\", for = 1000001 }",
       [](auto& s) {
         s.memory.limit = LimitRule{1u << 30, 1'000'001, {}};
       }},
      {"leak = { rate = \"0B/h\" }", [](auto& s) { s.memory.leak = LeakRule{}; }},
      {"leak = { rate = \"1B/h\", sample = \"61m\" }",
       [](auto& s) {
         s.memory.leak = LeakRule{1, LeakAction::recycle, Millis{3'660'000}, {}};
       }},
      {"requests = { max = 0 }",
       [](auto& s) {
         s.memory.requests = RequestsRule{0, 0};
       }},
      {"requests = { max = 10, jitter = 11 }",
       [](auto& s) {
         s.memory.requests = RequestsRule{10, 11};
       }},
      {"age = { max = \"0\" }", [](auto& s) { s.memory.age = AgeRule{}; }},
      {"age = { max = \"1h\", jitter = \"2h\" }",
       [](auto& s) {
         s.memory.age = AgeRule{Millis{3'600'000}, Millis{7'200'000}};
       }},
      {"max_recycling = 0", [](auto& s) { s.max_recycling = 0; }},
      {"max_recycling = 1001", [](auto& s) { s.max_recycling = 1001; }},
      {"warn = \"2GiB\"\ncritical = \"1GiB\"",
       [](auto& s) {
         s.memory.warn = SizeRule{2u << 30, {}};
         s.memory.critical = SizeRule{1u << 30, {}};
       }},
      {"limit = \"2GiB\"\ncritical = { size = \"1GiB\", metric = \"pss\" }",
       [](auto& s) {
         s.memory.limit = LimitRule{2u << 30, 3, {}};
         s.memory.critical = SizeRule{1u << 30, MemoryMetric::pss};
       }},
  };
  for (const Case& c : cases) {
    std::string toml = "[service.web]\n" + c.toml + "\n";
    if (c.toml.find("command") == std::string::npos) toml += "command = [\"app\"]\n";
    auto parsed = parse_config(toml, "web.toml");
    ASSERT_FALSE(parsed.ok()) << c.toml;
    std::string message = parsed.error().message;
    ASSERT_TRUE(message.starts_with("web.toml:")) << message;
    size_t after_position = message.find(": ");
    EXPECT_EQ(message.substr(after_position + 2), problem(c.change)) << c.toml;
  }
}

TEST(DescribeConfig, CountsServicesAndInstances) {
  Config config = one_service();
  EXPECT_EQ(describe_config(config), "ok: command line: 1 service, 1 instance (web ×1)");
  config.source = "web.toml";
  config.services[0].instances = 3;
  ServiceConfig& jobs = config.services.emplace_back();
  jobs.name = "jobs";
  jobs.instances = 2;
  EXPECT_EQ(describe_config(config), "ok: web.toml: 2 services, 5 instances (web ×3, jobs ×2)");
}

TEST(ValidateConfig, MemoryRules) {
  EXPECT_EQ(problem([](auto& s) { s.memory.metric = MemoryMetric(static_cast<MetricKind>(9)); }),
            "service.web.metric: expected one of pss, rss, uss, anon, swap, cgroup, or gauge:NAME");
  EXPECT_EQ(problem([](auto& s) {
              s.memory.leak = LeakRule{1, LeakAction::alert, Millis{-1}, {}};
            }),
            "service.web.leak.sample: expected a duration of at least 0, got -1ms");
  EXPECT_EQ(problem([](auto& s) {
              s.memory.age = AgeRule{kMaxDuration + Millis{1}, Millis{0}};
            }),
            "service.web.age.max: expected a duration of at most 3650d, got 3650d1ms");
  EXPECT_EQ(problem([](auto& s) {
              s.memory.requests = RequestsRule{5, -1};
            }),
            "service.web.requests.jitter: expected between 0 and max (5), got -1");
  // Different metrics do not compare; the same one, by default or written out, does.
  EXPECT_EQ(problem([](auto& s) {
              s.memory.warn = SizeRule{2, MemoryMetric::rss};
              s.memory.critical = SizeRule{1, {}};
            }),
            "valid");
  EXPECT_EQ(problem([](auto& s) {
              s.memory.metric = MemoryMetric::rss;
              s.memory.warn = SizeRule{3, MemoryMetric::rss};
              s.memory.limit = LimitRule{2, 3, {}};
            }),
            "service.web.limit: expected at least warn (3B), got 2B");
  Config config = one_service();
  config.supervisor.total = SizeRule{0, {}};
  EXPECT_EQ(validate_config(config).error().message,
            "supervisor.total.size: expected a size greater than 0, got 0B");
  config.supervisor.total = SizeRule{1, MemoryMetric(static_cast<MetricKind>(7))};
  EXPECT_EQ(
      validate_config(config).error().message,
      "supervisor.total.metric: expected one of pss, rss, uss, anon, swap, cgroup, or gauge:NAME");
}

TEST(DescribeConfig, MentionsTheRules) {
  Config config = one_service();
  config.services[0].memory.limit = LimitRule{500u << 20, 3, {}};
  config.services[0].memory.leak = LeakRule{10u << 20, LeakAction::recycle, Millis{0}, {}};
  config.services[0].memory.age = AgeRule{Millis{21'600'000}, Millis{0}};
  config.supervisor.total = SizeRule{4ull << 30, {}};
  EXPECT_EQ(describe_config(config),
            "ok: command line: 1 service, 1 instance (web ×1 [limit 500MiB, leak 10MiB/h, age "
            "6h]), total 4GiB");
}

TEST(PathKey, QuotesOnlyWhenNeeded) {
  EXPECT_EQ(path_key("web-1_A"), "web-1_A");
  EXPECT_EQ(path_key("my app"), "\"my app\"");
  EXPECT_EQ(path_key(""), "\"\"");
  EXPECT_EQ(path_key("a\\b"), "\"a\\\\b\"");
  EXPECT_EQ(service_path("x.y"), "service.\"x.y\"");
}

}  // namespace
}  // namespace memvisor
