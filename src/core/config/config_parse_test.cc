// parse_config: the whole format, defaults, file order, and the exact message (with
// line:column) for syntax errors, unknown keys, names and missing services.
#include "core/config/config_parse.h"

#include <gtest/gtest.h>

#include "core/config/config_validate.h"

#include "core/config/config_test_text.h"

namespace memvisor {
namespace {

TEST(ParseConfig, EveryKey) {
  Config config = config_ok(R"([supervisor]
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
  Config config = config_ok(web_service(""));
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
  Config config = config_ok(R"([service.zeta]
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
  Config config = config_ok(R"(service.a.command = ["x"]
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
  EXPECT_EQ(
      config_ok(web_service("watchdog = \"0\"\nrestart_delay = \"0s\"\n")).services[0].watchdog,
      Millis{0});
}

TEST(ParseConfigErrors, TomlSyntax) {
  EXPECT_EQ(config_error("[service.web]\ncommand = [\"app\"\ninstances = 2\n"),
            "web.toml:3:1: TOML syntax error: Error while parsing array: expected comma or "
            "closing ']', saw 'i'");
  EXPECT_EQ(config_error(web_service("instances = 1\ninstances = 2\n")),
            "web.toml:4:13: TOML syntax error: Error while parsing key-value pair: cannot redefine "
            "existing integer 'instances'");
}

// Found by fuzz_config: inputs on which toml++ 3.3's own checks fire when it is built with them
// (an assert that a table header starts like a key; TOML_UNREACHABLE for a non-ASCII character
// where whitespace may come). Debian's library, which memvisor links, reports them: one clear
// message each.
TEST(ParseConfigErrors, TomlLibraryEdgeCases) {
  EXPECT_EQ(config_error("[(service.web]\ncommand = [\"app\"]\n"),
            "web.toml:1:2: TOML syntax error: Error while parsing key: expected bare key starting "
            "character or string delimiter, saw '('");
  EXPECT_EQ(config_error("[service.web]\ncommand = [\"app\"]\n\xc3\xa9 = 1\n"),
            "web.toml:3:1: TOML syntax error: Error while parsing root table: expected keys, "
            "tables, whitespace or comments, saw '\xc3\xa9'");
  EXPECT_EQ(config_error("\xef\xbb\xbb"
                         "5b]\nc@512M\" }\n"),
            "web.toml:1:1: TOML syntax error: Error while parsing root table: expected keys, "
            "tables, whitespace or comments, saw '\xef\xbb\xbb'");
}

TEST(ParseConfigErrors, UnknownKeys) {
  EXPECT_EQ(config_error("[service.web]\ncommand = [\"app\"]\n\n\n\n\ninstnces = 2\n"),
            "web.toml:7:1: unknown key 'instnces' in [service.web]; did you mean 'instances'?");
  EXPECT_EQ(config_error(web_service("banana = 2\n")),
            "web.toml:3:1: unknown key 'banana' in [service.web]");
  EXPECT_EQ(config_error(web_service("[service.web.enb]\nA = \"1\"\n")),
            "web.toml:3:14: unknown key 'enb' in [service.web]; did you mean 'env'?");
  EXPECT_EQ(config_error("[supervisor]\nstatedir = \"/x\"\n"),
            "web.toml:2:1: unknown key 'statedir' in [supervisor]; did you mean 'state_dir'?");
  EXPECT_EQ(config_error("[servce.web]\ncommand = [\"app\"]\n"),
            "web.toml:1:2: unknown table [servce]; did you mean [service]?");
  EXPECT_EQ(config_error("[services.web]\ncommand = [\"app\"]\n"),
            "web.toml:1:2: unknown table [services]; did you mean [service]?");
  EXPECT_EQ(config_error("verbose = true\n" + web_service("")),
            "web.toml:1:1: unknown key 'verbose' at the top level");
  EXPECT_EQ(config_error("[program.web]\n"), "web.toml:1:2: unknown table [program]");
}

TEST(ParseConfigErrors, TopLevelTypes) {
  EXPECT_EQ(config_error("service = 5\n"),
            "web.toml:1:11: service: expected a table, got an integer");
  EXPECT_EQ(config_error("[service]\nweb = \"app\"\n"),
            "web.toml:2:7: service.web: expected a table, got a string");
  EXPECT_EQ(config_error("supervisor = \"x\"\n" + web_service("")),
            "web.toml:1:14: supervisor: expected a table, got a string");
  EXPECT_EQ(config_error("[supervisor]\nstate_dir = 1\n"),
            "web.toml:2:13: supervisor.state_dir: expected a string, got an integer");
  EXPECT_EQ(config_error("[[service]]\nname = \"web\"\n"),
            "web.toml:1:1: service: expected [service.NAME] tables, got an array of tables");
}

TEST(ParseConfigErrors, FirstProblemInFileOrder) {
  // toml++ sorts keys, so "instances" would come before "zzz" if file order were not restored.
  EXPECT_EQ(config_error(web_service("zzz = 1\ninstances = 0\n")),
            "web.toml:3:1: unknown key 'zzz' in [service.web]");
  EXPECT_EQ(config_error("[service.b]\ncommand = []\n[service.a]\ncommand = []\n"),
            "web.toml:2:11: service.b.command: expected a non-empty array of strings, got an "
            "empty array");
}

TEST(ParseConfigErrors, ServiceNames) {
  EXPECT_EQ(config_error("[service.\"my app\"]\ncommand = [\"x\"]\n"),
            "web.toml:1:10: service.\"my app\": expected a service name of letters, digits, '_' "
            "and '-' (at most 64 characters), got 'my app'");
  EXPECT_EQ(config_error("[service.\"a/b\"]\ncommand = [\"x\"]\n"),
            "web.toml:1:10: service.\"a/b\": expected a service name of letters, digits, '_' and "
            "'-' (at most 64 characters), got 'a/b'");
  std::string long_name(65, 'x');
  EXPECT_EQ(config_error("[service." + long_name + "]\ncommand = [\"x\"]\n"),
            "web.toml:1:10: service." + long_name +
                ": expected a service name of letters, digits, '_' and '-' (at most 64 "
                "characters), got '" +
                long_name + "'");
  EXPECT_EQ(
      config_ok("[service." + std::string(64, 'x') + "]\ncommand = [\"x\"]\n").services.size(), 1u);
  EXPECT_EQ(config_ok("[service.Web_2-b]\ncommand = [\"x\"]\n").services[0].name, "Web_2-b");
}

TEST(ParseConfigErrors, NoServices) {
  const std::string expected = "web.toml: no services defined; add a [service.NAME] table";
  EXPECT_EQ(config_error(""), expected);
  EXPECT_EQ(config_error("# nothing\n"), expected);
  EXPECT_EQ(config_error("[supervisor]\nstate_dir = \"/x\"\n"), expected);
  EXPECT_EQ(config_error("[service]\n"), expected);
}

}  // namespace
}  // namespace memvisor

namespace memvisor {
namespace {

TEST(ParseConfigHttp, AddressIsNormalized) {
  EXPECT_TRUE(config_ok(web_service("")).supervisor.http.empty());  // off unless asked for
  EXPECT_EQ(
      config_ok("[supervisor]\nhttp = \"127.0.0.1:9464\"\n" + web_service("")).supervisor.http,
      "127.0.0.1:9464");
  EXPECT_EQ(config_ok("[supervisor]\nhttp = \":9464\"\n" + web_service("")).supervisor.http,
            "127.0.0.1:9464");
  EXPECT_EQ(config_ok("[supervisor]\nhttp = \"[::1]:80\"\n" + web_service("")).supervisor.http,
            "[::1]:80");
}

TEST(ParseConfigHttp, BadAddressesArePlaced) {
  EXPECT_EQ(config_error("[supervisor]\nhttp = 9464\n" + web_service("")),
            "web.toml:2:8: supervisor.http: expected a string like \"127.0.0.1:9464\", got an "
            "integer");
  EXPECT_EQ(config_error("[supervisor]\nhttp = \"127.0.0.1:99999\"\n" + web_service("")),
            "web.toml:2:8: supervisor.http: port '99999': expected a number from 1 to 65535");
  EXPECT_EQ(config_error("[supervisor]\nhtp = \":1\"\n"),
            "web.toml:2:1: unknown key 'htp' in [supervisor]; did you mean 'http'?");
}

}  // namespace
}  // namespace memvisor
