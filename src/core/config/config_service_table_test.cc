// parse_config on bad values inside a [service.NAME] table: the exact message with line:column.
#include "core/config/config_parse.h"

#include <gtest/gtest.h>

#include "core/config/config_test_text.h"

namespace memvisor {
namespace {

TEST(ServiceTableErrors, WrongTypes) {
  EXPECT_EQ(config_error(web_service("instances = \"2\"\n")),
            "web.toml:3:13: service.web.instances: expected an integer, got a string");
  EXPECT_EQ(config_error(web_service("instances = 2.0\n")),
            "web.toml:3:13: service.web.instances: expected an integer, got a float");
  EXPECT_EQ(config_error(web_service("cwd = 5\n")),
            "web.toml:3:7: service.web.cwd: expected a string, got an integer");
  EXPECT_EQ(config_error(web_service("user = [\"x\"]\n")),
            "web.toml:3:8: service.web.user: expected a string, got an array");
  EXPECT_EQ(config_error(web_service("log_dir = 1979-05-27\n")),
            "web.toml:3:11: service.web.log_dir: expected a string, got a date");
  EXPECT_EQ(config_error(web_service("shell = \"yes\"\n")),
            "web.toml:3:9: service.web.shell: expected a boolean, got a string");
  EXPECT_EQ(config_error(web_service("env = [\"A=1\"]\n")),
            "web.toml:3:7: service.web.env: expected a table of strings, got an array");
  EXPECT_EQ(config_error(web_service("restart_backoff = \"2\"\n")),
            "web.toml:3:19: service.web.restart_backoff: expected a number, got a string");
  EXPECT_EQ(config_error(web_service("output = 3\n")),
            "web.toml:3:10: service.web.output: expected one of prefix, file, got an integer");
  EXPECT_EQ(config_error(web_service("stop_signal = true\n")),
            "web.toml:3:15: service.web.stop_signal: expected a signal name like SIGINT or "
            "SIGTERM, got a boolean");
}

TEST(ServiceTableErrors, Counts) {
  EXPECT_EQ(config_error(web_service("instances = 0\n")),
            "web.toml:3:13: service.web.instances: expected a positive integer, got 0");
  EXPECT_EQ(config_error(web_service("instances = -3\n")),
            "web.toml:3:13: service.web.instances: expected a positive integer, got -3");
  EXPECT_EQ(config_error(web_service("instances = 1001\n")),
            "web.toml:3:13: service.web.instances: expected at most 1000 instances, got 1001");
  EXPECT_EQ(config_error(web_service("instances = 99999999999\n")),
            "web.toml:3:13: service.web.instances: expected at most 1000 instances, got "
            "99999999999");
  EXPECT_EQ(config_error(web_service("circuit_failures = 0\n")),
            "web.toml:3:20: service.web.circuit_failures: expected a positive integer, got 0");
  EXPECT_EQ(config_error(web_service("circuit_failures = 4294967296\n")),
            "web.toml:3:20: service.web.circuit_failures: expected at most 2147483647, got "
            "4294967296");
  EXPECT_EQ(config_ok(web_service("instances = 1000\n")).services[0].instances, 1000);
}

TEST(ServiceTableErrors, Durations) {
  EXPECT_EQ(config_error(web_service("\n\n\n\n\n\nstop_timeout = \"10 seconds\"\n")),
            "web.toml:9:16: service.web.stop_timeout: expected a duration like 100ms, 10s, 5m or "
            "1h, got '10 seconds'");
  EXPECT_EQ(config_error(web_service("kill_timeout = 5\n")),
            "web.toml:3:16: service.web.kill_timeout: expected a duration like 100ms, 10s, 5m or "
            "1h, got 5");
  EXPECT_EQ(config_error(web_service("startup_timeout = true\n")),
            "web.toml:3:19: service.web.startup_timeout: expected a duration like 100ms, 10s, 5m "
            "or 1h, got a boolean");
  EXPECT_EQ(config_error(web_service("watchdog = \"5000d\"\n")),
            "web.toml:3:12: service.web.watchdog: expected a duration of at most 3650d, got "
            "'5000d'");
  for (std::string_view field :
       {"stop_timeout", "kill_timeout", "startup_timeout", "circuit_cooldown"}) {
    std::string line = std::string(field) + " = \"0s\"\n";
    EXPECT_EQ(config_error(web_service(line)), "web.toml:3:" + std::to_string(field.size() + 4) +
                                                   ": service.web." + std::string(field) +
                                                   ": expected a duration greater than 0, got 0");
  }
  for (std::string_view field : {"restart_delay", "min_uptime", "watchdog"}) {
    EXPECT_EQ(config_error(web_service(std::string(field) + " = \"0\"\n")), "parsed without error");
  }
}

TEST(ServiceTableErrors, RestartDelays) {
  EXPECT_EQ(config_error(web_service("restart_delay = \"5s\"\nrestart_delay_max = \"2s\"\n")),
            "web.toml:4:21: service.web.restart_delay_max: expected at least restart_delay (5s), "
            "got 2s");
  EXPECT_EQ(config_error(web_service("restart_delay = \"2m\"\n")),
            "web.toml:3:17: service.web.restart_delay_max: expected at least restart_delay (2m), "
            "got 1m (the default)");
  EXPECT_EQ(config_error(web_service("restart_backoff = 0.5\n")),
            "web.toml:3:19: service.web.restart_backoff: expected a number of at least 1, got 0.5");
  EXPECT_EQ(config_error(web_service("restart_backoff = nan\n")),
            "web.toml:3:19: service.web.restart_backoff: expected a number of at least 1, got nan");
  EXPECT_EQ(config_error(web_service("restart_backoff = inf\n")),
            "web.toml:3:19: service.web.restart_backoff: expected a number of at least 1, got inf");
  EXPECT_EQ(config_ok(web_service("restart_backoff = 1\n")).services[0].restart_backoff, 1.0);
}

TEST(ServiceTableErrors, Command) {
  EXPECT_EQ(config_error("[service.web]\ninstances = 2\n"),
            "web.toml:1:1: service.web: missing required key 'command'");
  EXPECT_EQ(config_error("[service.web]\ncommand = []\n"),
            "web.toml:2:11: service.web.command: expected a non-empty array of strings, got an "
            "empty array");
  EXPECT_EQ(config_error("[service.web]\ncommand = [\"app\", 8000]\n"),
            "web.toml:2:19: service.web.command[1]: expected a string, got an integer");
  EXPECT_EQ(config_error("[service.web]\ncommand = [\"\", \"x\"]\n"),
            "web.toml:2:12: service.web.command[0]: expected a program name, got ''");
  EXPECT_EQ(config_error("[service.web]\ncommand = [\"a\\u0000b\"]\n"),
            "web.toml:2:12: service.web.command[0]: expected a string without NUL characters");
  EXPECT_EQ(config_error("[service.web]\ncommand = \"app --port 80\"\n"),
            "web.toml:2:11: service.web.command: expected an array of strings, got a string (set "
            "shell = true to run it with /bin/sh -c)");
  EXPECT_EQ(config_error("[service.web]\ncommand = 5\n"),
            "web.toml:2:11: service.web.command: expected an array of strings, got an integer");
  EXPECT_EQ(config_error("[service.web]\nshell = true\ncommand = [\"app\"]\n"),
            "web.toml:3:11: service.web.command: expected a string (shell = true), got an array");
  EXPECT_EQ(config_error("[service.web]\nshell = true\ncommand = \"\"\n"),
            "web.toml:3:11: service.web.command: expected a non-empty shell command, got ''");
}

TEST(ServiceTableErrors, Env) {
  EXPECT_EQ(config_error(web_service("env = { PORT = 8000 }\n")),
            "web.toml:3:16: service.web.env.PORT: expected a string, got an integer");
  EXPECT_EQ(config_error(web_service("env = { \"MY VAR\" = false }\n")),
            "web.toml:3:20: service.web.env.\"MY VAR\": expected a string, got a boolean");
  EXPECT_EQ(config_error(web_service("env = { \"A=B\" = \"1\" }\n")),
            "web.toml:3:9: service.web.env: expected a variable name without '=', got 'A=B'");
  EXPECT_EQ(config_error(web_service("env = { \"\" = \"1\" }\n")),
            "web.toml:3:9: service.web.env: expected a variable name without '=', got ''");
}

TEST(ServiceTableErrors, Enums) {
  EXPECT_EQ(config_error(web_service("restart = \"sometimes\"\n")),
            "web.toml:3:11: service.web.restart: expected one of always, on-failure, never, got "
            "'sometimes'");
  EXPECT_EQ(config_error(web_service("ready = \"later\"\n")),
            "web.toml:3:9: service.web.ready: expected one of immediate, notify, got 'later'");
  EXPECT_EQ(config_error(web_service("output = \"Prefix\"\n")),
            "web.toml:3:10: service.web.output: expected one of prefix, file, got 'Prefix'");
}

TEST(ServiceTableErrors, Signals) {
  EXPECT_EQ(config_error(web_service("stop_signal = \"SIGFOO\"\n")),
            "web.toml:3:15: service.web.stop_signal: expected a signal name like SIGINT or "
            "SIGTERM, got 'SIGFOO'");
  EXPECT_EQ(config_error(web_service("stop_signal = 99\n")),
            "web.toml:3:15: service.web.stop_signal: expected a signal between 1 and 64, got 99");
  EXPECT_EQ(config_error(web_service("stop_signal = 0\n")),
            "web.toml:3:15: service.web.stop_signal: expected a signal between 1 and 64, got 0");
}

}  // namespace
}  // namespace memvisor

namespace memvisor {
namespace {

TEST(ServiceTableHeapSampler, OffByDefaultOnWhenAsked) {
  EXPECT_FALSE(config_ok(web_service("")).services.at(0).heap_sampler);
  EXPECT_TRUE(config_ok(web_service("heap_sampler = true\n")).services.at(0).heap_sampler);
  EXPECT_FALSE(config_ok(web_service("heap_sampler = true\n")).services.at(0).heap_runtime);
  const ServiceConfig forced = config_ok(web_service("heap_sampler = \"jvm\"\n")).services.at(0);
  EXPECT_TRUE(forced.heap_sampler);
  EXPECT_EQ(forced.heap_runtime, RuntimeKind::jvm);
  EXPECT_EQ(config_error(web_service("heap_sampler = \"java\"\n")),
            "web.toml:3:16: service.web.heap_sampler: expected true, false, or one of 'node', "
            "'python', 'jvm', 'ruby', 'go', 'native', got 'java'");
  EXPECT_EQ(config_error(web_service("heap_sampler = 1\n")),
            "web.toml:3:16: service.web.heap_sampler: expected true, false, or one of 'node', "
            "'python', 'jvm', 'ruby', 'go', 'native', got an integer");
}

TEST(ServiceTablePprof, AnHttpUrl) {
  EXPECT_EQ(config_ok(web_service("pprof = \"http://127.0.0.1:6060\"\n")).services.at(0).pprof,
            "http://127.0.0.1:6060");
  EXPECT_EQ(config_error(web_service("pprof = \"https://127.0.0.1:6060\"\n")),
            "web.toml:3:9: service.web.pprof: expected a URL like http://127.0.0.1:6060, got "
            "'https://127.0.0.1:6060'");
}

TEST(ServiceTableCgroup, OffByDefaultOnWhenAsked) {
  EXPECT_FALSE(config_ok(web_service("")).services.at(0).cgroup);
  EXPECT_TRUE(config_ok(web_service("cgroup = true\n")).services.at(0).cgroup);
  EXPECT_EQ(config_error(web_service("cgroup = 1\n")),
            "web.toml:3:10: service.web.cgroup: expected a boolean, got an integer");
}

}  // namespace
}  // namespace memvisor
