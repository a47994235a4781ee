// parse_config: the full format, defaults, file order, and the exact message (with line:column)
// for each kind of bad input.
#include "core/config_parse.h"

#include <gtest/gtest.h>

#include "core/config_validate.h"

namespace memvisor {
namespace {

std::string error_of(std::string_view text) {
  auto parsed = parse_config(text, "web.toml");
  return parsed.ok() ? "parsed without error" : parsed.error().message;
}

Config parse_ok(std::string_view text) {
  auto parsed = parse_config(text, "web.toml");
  EXPECT_TRUE(parsed.ok()) << parsed.error().message;
  return parsed.ok() ? *parsed : Config{};
}

// One service "web" with a command; `rest` goes on line 3 onwards.
std::string web(std::string_view rest) {
  return "[service.web]\ncommand = [\"app\"]\n" + std::string(rest);
}

TEST(ParseConfig, EveryKey) {
  Config config = parse_ok(R"([supervisor]
state_dir = "/run/memvisor"

[service.web]
command = ["python3", "-m", "http.server", "8000"]
shell = false
instances = 2
env = { PYTHONUNBUFFERED = "1", "X Y" = "z" }
cwd = "/srv/app"
user = "www-data"
restart = "on-failure"
restart_delay = "1.5s"
restart_backoff = 1.5
restart_delay_max = "1h30m"
min_uptime = "20s"
circuit_failures = 7
circuit_cooldown = "2m"
stop_signal = "term"
stop_timeout = "3s"
kill_timeout = "250ms"
ready = "notify"
startup_timeout = "45s"
watchdog = "30s"
output = "file"
log_dir = "/var/log/memvisor"
)");
  EXPECT_EQ(config.source, "web.toml");
  EXPECT_EQ(config.supervisor.state_dir, "/run/memvisor");
  ASSERT_EQ(config.services.size(), 1u);
  const ServiceConfig& s = config.services[0];
  EXPECT_EQ(s.name, "web");
  EXPECT_EQ(s.command, (std::vector<std::string>{"python3", "-m", "http.server", "8000"}));
  EXPECT_EQ(s.instances, 2);
  EXPECT_EQ(s.env, (std::map<std::string, std::string>{{"PYTHONUNBUFFERED", "1"}, {"X Y", "z"}}));
  EXPECT_EQ(s.cwd, "/srv/app");
  EXPECT_EQ(s.user, "www-data");
  EXPECT_EQ(s.restart, RestartPolicy::on_failure);
  EXPECT_EQ(s.restart_delay, Millis{1500});
  EXPECT_EQ(s.restart_backoff, 1.5);
  EXPECT_EQ(s.restart_delay_max, Millis{5'400'000});
  EXPECT_EQ(s.min_uptime, Millis{20'000});
  EXPECT_EQ(s.circuit_failures, 7);
  EXPECT_EQ(s.circuit_cooldown, Millis{120'000});
  EXPECT_EQ(s.stop_signal, SIGTERM);
  EXPECT_EQ(s.stop_timeout, Millis{3000});
  EXPECT_EQ(s.kill_timeout, Millis{250});
  EXPECT_EQ(s.ready, ReadyMode::notify);
  EXPECT_EQ(s.startup_timeout, Millis{45'000});
  EXPECT_EQ(s.watchdog, Millis{30'000});
  EXPECT_EQ(s.output, OutputMode::file);
  EXPECT_EQ(s.log_dir, "/var/log/memvisor");
  EXPECT_TRUE(validate_config(config).ok());
}

TEST(ParseConfig, DefaultsMatchTheModel) {
  Config config = parse_ok(web(""));
  ServiceConfig defaults;
  defaults.name = "web";
  defaults.command = {"app"};
  ASSERT_EQ(config.services.size(), 1u);
  const ServiceConfig& s = config.services[0];
  EXPECT_EQ(s.instances, defaults.instances);
  EXPECT_EQ(s.restart, defaults.restart);
  EXPECT_EQ(s.restart_delay, defaults.restart_delay);
  EXPECT_EQ(s.restart_backoff, defaults.restart_backoff);
  EXPECT_EQ(s.stop_signal, SIGINT);
  EXPECT_EQ(s.watchdog, Millis{0});
  EXPECT_EQ(s.output, defaults.output);
  EXPECT_TRUE(config.supervisor.state_dir.empty());
}

TEST(ParseConfig, ServicesKeepFileOrder) {
  Config config = parse_ok(R"([service.zeta]
command = ["z"]
instances = 3
[service.alpha]
command = ["a"]
[service.mid]
command = ["m"]
instances = 2
)");
  ASSERT_EQ(config.services.size(), 3u);
  EXPECT_EQ(config.services[0].name, "zeta");
  EXPECT_EQ(config.services[1].name, "alpha");
  EXPECT_EQ(config.services[2].name, "mid");
  EXPECT_EQ(describe_config(config),
            "ok: web.toml: 3 services, 6 instances (zeta ×3, alpha ×1, mid ×2)");
}

TEST(ParseConfig, OtherWaysToWriteTheSameThing) {
  Config config = parse_ok(R"(service.a.command = ["x"]
[service."b"]
command = "echo hi | wc -c"
shell = true
restart_backoff = 3
stop_signal = 9
watchdog = 0
[service.b.env]
PORT = "80"
)");
  ASSERT_EQ(config.services.size(), 2u);
  EXPECT_EQ(config.services[0].name, "a");
  const ServiceConfig& b = config.services[1];
  EXPECT_EQ(b.name, "b");
  EXPECT_EQ(b.command, (std::vector<std::string>{"/bin/sh", "-c", "echo hi | wc -c"}));
  EXPECT_EQ(b.restart_backoff, 3.0);
  EXPECT_EQ(b.stop_signal, SIGKILL);
  EXPECT_EQ(b.env.at("PORT"), "80");
  EXPECT_EQ(parse_ok(web("watchdog = \"0\"\nrestart_delay = \"0s\"\n")).services[0].watchdog,
            Millis{0});
}

TEST(ParseConfigErrors, TomlSyntax) {
  EXPECT_EQ(error_of("[service.web]\ncommand = [\"app\"\ninstances = 2\n"),
            "web.toml:3:1: TOML syntax error: Error while parsing array: expected comma or "
            "closing ']', saw 'i'");
  EXPECT_EQ(error_of(web("instances = 1\ninstances = 2\n")),
            "web.toml:4:13: TOML syntax error: Error while parsing key-value pair: cannot redefine "
            "existing integer 'instances'");
}

TEST(ParseConfigErrors, UnknownKeys) {
  EXPECT_EQ(error_of("[service.web]\ncommand = [\"app\"]\n\n\n\n\ninstnces = 2\n"),
            "web.toml:7:1: unknown key 'instnces' in [service.web]; did you mean 'instances'?");
  EXPECT_EQ(error_of(web("banana = 2\n")), "web.toml:3:1: unknown key 'banana' in [service.web]");
  EXPECT_EQ(error_of(web("[service.web.enb]\nA = \"1\"\n")),
            "web.toml:3:14: unknown key 'enb' in [service.web]; did you mean 'env'?");
  EXPECT_EQ(error_of("[supervisor]\nstatedir = \"/x\"\n"),
            "web.toml:2:1: unknown key 'statedir' in [supervisor]; did you mean 'state_dir'?");
  EXPECT_EQ(error_of("[servce.web]\ncommand = [\"app\"]\n"),
            "web.toml:1:2: unknown table [servce]; did you mean [service]?");
  EXPECT_EQ(error_of("[services.web]\ncommand = [\"app\"]\n"),
            "web.toml:1:2: unknown table [services]; did you mean [service]?");
  EXPECT_EQ(error_of("verbose = true\n" + web("")),
            "web.toml:1:1: unknown key 'verbose' at the top level");
  EXPECT_EQ(error_of("[program.web]\n"), "web.toml:1:2: unknown table [program]");
}

TEST(ParseConfigErrors, FirstProblemInFileOrder) {
  // toml++ sorts keys, so "instances" would come before "zzz" if file order were not restored.
  EXPECT_EQ(error_of(web("zzz = 1\ninstances = 0\n")),
            "web.toml:3:1: unknown key 'zzz' in [service.web]");
  EXPECT_EQ(error_of("[service.b]\ncommand = []\n[service.a]\ncommand = []\n"),
            "web.toml:2:11: service.b.command: expected a non-empty array of strings, got an "
            "empty array");
}

TEST(ParseConfigErrors, WrongTypes) {
  EXPECT_EQ(error_of(web("instances = \"2\"\n")),
            "web.toml:3:13: service.web.instances: expected an integer, got a string");
  EXPECT_EQ(error_of(web("instances = 2.0\n")),
            "web.toml:3:13: service.web.instances: expected an integer, got a float");
  EXPECT_EQ(error_of(web("cwd = 5\n")),
            "web.toml:3:7: service.web.cwd: expected a string, got an integer");
  EXPECT_EQ(error_of(web("user = [\"x\"]\n")),
            "web.toml:3:8: service.web.user: expected a string, got an array");
  EXPECT_EQ(error_of(web("log_dir = 1979-05-27\n")),
            "web.toml:3:11: service.web.log_dir: expected a string, got a date");
  EXPECT_EQ(error_of(web("shell = \"yes\"\n")),
            "web.toml:3:9: service.web.shell: expected a boolean, got a string");
  EXPECT_EQ(error_of(web("env = [\"A=1\"]\n")),
            "web.toml:3:7: service.web.env: expected a table of strings, got an array");
  EXPECT_EQ(error_of(web("restart_backoff = \"2\"\n")),
            "web.toml:3:19: service.web.restart_backoff: expected a number, got a string");
  EXPECT_EQ(error_of(web("output = 3\n")),
            "web.toml:3:10: service.web.output: expected one of prefix, file, got an integer");
  EXPECT_EQ(error_of(web("stop_signal = true\n")),
            "web.toml:3:15: service.web.stop_signal: expected a signal name like SIGINT or "
            "SIGTERM, got a boolean");
  EXPECT_EQ(error_of("service = 5\n"), "web.toml:1:11: service: expected a table, got an integer");
  EXPECT_EQ(error_of("[service]\nweb = \"app\"\n"),
            "web.toml:2:7: service.web: expected a table, got a string");
  EXPECT_EQ(error_of("supervisor = \"x\"\n" + web("")),
            "web.toml:1:14: supervisor: expected a table, got a string");
  EXPECT_EQ(error_of("[supervisor]\nstate_dir = 1\n"),
            "web.toml:2:13: supervisor.state_dir: expected a string, got an integer");
}

TEST(ParseConfigErrors, Counts) {
  EXPECT_EQ(error_of(web("instances = 0\n")),
            "web.toml:3:13: service.web.instances: expected a positive integer, got 0");
  EXPECT_EQ(error_of(web("instances = -3\n")),
            "web.toml:3:13: service.web.instances: expected a positive integer, got -3");
  EXPECT_EQ(error_of(web("instances = 1001\n")),
            "web.toml:3:13: service.web.instances: expected at most 1000 instances, got 1001");
  EXPECT_EQ(error_of(web("instances = 99999999999\n")),
            "web.toml:3:13: service.web.instances: expected at most 1000 instances, got "
            "99999999999");
  EXPECT_EQ(error_of(web("circuit_failures = 0\n")),
            "web.toml:3:20: service.web.circuit_failures: expected a positive integer, got 0");
  EXPECT_EQ(error_of(web("circuit_failures = 4294967296\n")),
            "web.toml:3:20: service.web.circuit_failures: expected at most 2147483647, got "
            "4294967296");
  EXPECT_EQ(parse_ok(web("instances = 1000\n")).services[0].instances, 1000);
}

TEST(ParseConfigErrors, Durations) {
  EXPECT_EQ(error_of(web("\n\n\n\n\n\nstop_timeout = \"10 seconds\"\n")),
            "web.toml:9:16: service.web.stop_timeout: expected a duration like 100ms, 10s, 5m or "
            "1h, got '10 seconds'");
  EXPECT_EQ(error_of(web("kill_timeout = 5\n")),
            "web.toml:3:16: service.web.kill_timeout: expected a duration like 100ms, 10s, 5m or "
            "1h, got 5");
  EXPECT_EQ(error_of(web("startup_timeout = true\n")),
            "web.toml:3:19: service.web.startup_timeout: expected a duration like 100ms, 10s, 5m "
            "or 1h, got a boolean");
  EXPECT_EQ(error_of(web("watchdog = \"5000d\"\n")),
            "web.toml:3:12: service.web.watchdog: expected a duration of at most 3650d, got "
            "'5000d'");
  for (std::string_view field :
       {"stop_timeout", "kill_timeout", "startup_timeout", "circuit_cooldown"}) {
    std::string line = std::string(field) + " = \"0s\"\n";
    EXPECT_EQ(error_of(web(line)), "web.toml:3:" + std::to_string(field.size() + 4) +
                                       ": service.web." + std::string(field) +
                                       ": expected a duration greater than 0, got 0");
  }
  for (std::string_view field : {"restart_delay", "min_uptime", "watchdog"}) {
    EXPECT_EQ(error_of(web(std::string(field) + " = \"0\"\n")), "parsed without error");
  }
}

TEST(ParseConfigErrors, RestartDelays) {
  EXPECT_EQ(error_of(web("restart_delay = \"5s\"\nrestart_delay_max = \"2s\"\n")),
            "web.toml:4:21: service.web.restart_delay_max: expected at least restart_delay (5s), "
            "got 2s");
  EXPECT_EQ(error_of(web("restart_delay = \"2m\"\n")),
            "web.toml:3:17: service.web.restart_delay_max: expected at least restart_delay (2m), "
            "got 1m (the default)");
  EXPECT_EQ(error_of(web("restart_backoff = 0.5\n")),
            "web.toml:3:19: service.web.restart_backoff: expected a number of at least 1, got 0.5");
  EXPECT_EQ(error_of(web("restart_backoff = nan\n")),
            "web.toml:3:19: service.web.restart_backoff: expected a number of at least 1, got nan");
  EXPECT_EQ(error_of(web("restart_backoff = inf\n")),
            "web.toml:3:19: service.web.restart_backoff: expected a number of at least 1, got inf");
  EXPECT_EQ(parse_ok(web("restart_backoff = 1\n")).services[0].restart_backoff, 1.0);
}

TEST(ParseConfigErrors, Command) {
  EXPECT_EQ(error_of("[service.web]\ninstances = 2\n"),
            "web.toml:1:1: service.web: missing required key 'command'");
  EXPECT_EQ(error_of("[service.web]\ncommand = []\n"),
            "web.toml:2:11: service.web.command: expected a non-empty array of strings, got an "
            "empty array");
  EXPECT_EQ(error_of("[service.web]\ncommand = [\"app\", 8000]\n"),
            "web.toml:2:19: service.web.command[1]: expected a string, got an integer");
  EXPECT_EQ(error_of("[service.web]\ncommand = [\"\", \"x\"]\n"),
            "web.toml:2:12: service.web.command[0]: expected a program name, got ''");
  EXPECT_EQ(error_of("[service.web]\ncommand = [\"a\\u0000b\"]\n"),
            "web.toml:2:12: service.web.command[0]: expected a string without NUL characters");
  EXPECT_EQ(error_of("[service.web]\ncommand = \"app --port 80\"\n"),
            "web.toml:2:11: service.web.command: expected an array of strings, got a string (set "
            "shell = true to run it with /bin/sh -c)");
  EXPECT_EQ(error_of("[service.web]\ncommand = 5\n"),
            "web.toml:2:11: service.web.command: expected an array of strings, got an integer");
  EXPECT_EQ(error_of("[service.web]\nshell = true\ncommand = [\"app\"]\n"),
            "web.toml:3:11: service.web.command: expected a string (shell = true), got an array");
  EXPECT_EQ(error_of("[service.web]\nshell = true\ncommand = \"\"\n"),
            "web.toml:3:11: service.web.command: expected a shell command");
}

TEST(ParseConfigErrors, Env) {
  EXPECT_EQ(error_of(web("env = { PORT = 8000 }\n")),
            "web.toml:3:16: service.web.env.PORT: expected a string, got an integer");
  EXPECT_EQ(error_of(web("env = { \"MY VAR\" = false }\n")),
            "web.toml:3:20: service.web.env.\"MY VAR\": expected a string, got a boolean");
  EXPECT_EQ(error_of(web("env = { \"A=B\" = \"1\" }\n")),
            "web.toml:3:9: service.web.env: expected a variable name without '=', got 'A=B'");
  EXPECT_EQ(error_of(web("env = { \"\" = \"1\" }\n")),
            "web.toml:3:9: service.web.env: expected a variable name without '=', got ''");
}

TEST(ParseConfigErrors, Enums) {
  EXPECT_EQ(error_of(web("restart = \"sometimes\"\n")),
            "web.toml:3:11: service.web.restart: expected one of always, on-failure, never, got "
            "'sometimes'");
  EXPECT_EQ(error_of(web("ready = \"later\"\n")),
            "web.toml:3:9: service.web.ready: expected one of immediate, notify, got 'later'");
  EXPECT_EQ(error_of(web("output = \"Prefix\"\n")),
            "web.toml:3:10: service.web.output: expected one of prefix, file, got 'Prefix'");
}

TEST(ParseConfigErrors, Signals) {
  EXPECT_EQ(error_of(web("stop_signal = \"SIGFOO\"\n")),
            "web.toml:3:15: service.web.stop_signal: expected a signal name like SIGINT or "
            "SIGTERM, got 'SIGFOO'");
  EXPECT_EQ(error_of(web("stop_signal = 99\n")),
            "web.toml:3:15: service.web.stop_signal: expected a signal between 1 and 64, got 99");
  EXPECT_EQ(error_of(web("stop_signal = 0\n")),
            "web.toml:3:15: service.web.stop_signal: expected a signal between 1 and 64, got 0");
}

TEST(ParseConfigErrors, ServiceNames) {
  EXPECT_EQ(error_of("[service.\"my app\"]\ncommand = [\"x\"]\n"),
            "web.toml:1:10: service.\"my app\": expected a service name of letters, digits, '_' "
            "and '-' (at most 64 characters), got 'my app'");
  EXPECT_EQ(error_of("[service.\"a/b\"]\ncommand = [\"x\"]\n"),
            "web.toml:1:10: service.\"a/b\": expected a service name of letters, digits, '_' and "
            "'-' (at most 64 characters), got 'a/b'");
  std::string long_name(65, 'x');
  EXPECT_EQ(error_of("[service." + long_name + "]\ncommand = [\"x\"]\n"),
            "web.toml:1:10: service." + long_name +
                ": expected a service name of letters, digits, '_' and '-' (at most 64 "
                "characters), got '" +
                long_name + "'");
  EXPECT_EQ(parse_ok("[service." + std::string(64, 'x') + "]\ncommand = [\"x\"]\n").services.size(),
            1u);
  EXPECT_EQ(parse_ok("[service.Web_2-b]\ncommand = [\"x\"]\n").services[0].name, "Web_2-b");
}

TEST(ParseConfigErrors, NoServices) {
  const std::string expected = "web.toml: no services defined; add a [service.NAME] table";
  EXPECT_EQ(error_of(""), expected);
  EXPECT_EQ(error_of("# nothing\n"), expected);
  EXPECT_EQ(error_of("[supervisor]\nstate_dir = \"/x\"\n"), expected);
  EXPECT_EQ(error_of("[service]\n"), expected);
}

}  // namespace
}  // namespace memvisor
