// Exec monitors in the config: one table or an array, defaults, every refusal with line:column,
// the JSON round trip, and a reload seeing a changed monitor.
#include "core/config/config_monitor.h"

#include <gtest/gtest.h>

#include "core/config/config_diff.h"
#include "core/config/config_json.h"
#include "core/config/config_test_text.h"

namespace memvisor {
namespace {

using namespace std::chrono_literals;

TEST(MonitorConfig, OneTableOrAnArray) {
  Config one = config_ok(web_service(
      "monitor = { name = \"queue_depth\", command = [\"./depth.sh\", \"-q\"], interval = "
      "\"10s\", timeout = \"2s\" }\n"));
  ASSERT_EQ(one.services[0].monitors.size(), 1u);
  const MonitorConfig& m = one.services[0].monitors[0];
  EXPECT_EQ(m.name, "queue_depth");
  EXPECT_EQ(m.command, (std::vector<std::string>{"./depth.sh", "-q"}));
  EXPECT_EQ(m.interval, 10s);
  EXPECT_EQ(m.timeout, 2s);

  Config two = config_ok(
      web_service("monitor = [ { name = \"a\", command = [\"x\"] },\n"
                  "            { name = \"b\", command = [\"y\"], interval = \"1s\" } ]\n"));
  ASSERT_EQ(two.services[0].monitors.size(), 2u);
  EXPECT_EQ(two.services[0].monitors[0].interval, 10s);  // the default
  EXPECT_EQ(two.services[0].monitors[0].timeout, 5s);    // half the interval, at most 5 s
  EXPECT_EQ(two.services[0].monitors[1].timeout, 500ms);

  Config tables =
      config_ok(web_service("[[service.web.monitor]]\nname = \"a\"\ncommand = [\"x\"]\n"
                            "[[service.web.monitor]]\nname = \"b\"\ncommand = [\"y\"]\n"));
  EXPECT_EQ(tables.services[0].monitors.size(), 2u);
}

TEST(MonitorConfig, RefusedWithLineAndColumn) {
  EXPECT_EQ(config_error(web_service("monitor = { name = \"queue-depth\", command = [\"x\"] }\n")),
            "web.toml:3:20: service.web.monitor.name: expected a gauge name matching "
            "[a-zA-Z_:][a-zA-Z0-9_:]* (at most 128 characters), got 'queue-depth'");
  EXPECT_EQ(config_error(web_service("monitor = { name = \"1x\", command = [\"x\"] }\n")),
            "web.toml:3:20: service.web.monitor.name: expected a gauge name matching "
            "[a-zA-Z_:][a-zA-Z0-9_:]* (at most 128 characters), got '1x'");
  EXPECT_EQ(config_error(web_service("monitor = { name = \"a\", command = [] }\n")),
            "web.toml:3:35: service.web.monitor.command: expected a non-empty array of strings, "
            "got an empty array");
  EXPECT_EQ(config_error(web_service("monitor = { name = \"a\", command = \"x y\" }\n")),
            "web.toml:3:35: service.web.monitor.command: expected an array of strings, got a "
            "string (for a shell line write [\"/bin/sh\", \"-c\", \"...\"])");
  EXPECT_EQ(config_error(web_service("monitor = { name = \"a\" }\n")),
            "web.toml:3:11: service.web.monitor: missing required key 'command'");
  EXPECT_EQ(config_error(web_service("monitor = { command = [\"x\"] }\n")),
            "web.toml:3:11: service.web.monitor: missing required key 'name'");
  EXPECT_EQ(
      config_error(web_service("monitor = { name = \"a\", command = [\"x\"], interval = \"50ms\" "
                               "}\n")),
      "web.toml:3:53: service.web.monitor.interval: expected a duration of at least 100ms, got "
      "50ms");
  EXPECT_EQ(config_error(web_service("monitor = { name = \"a\", command = [\"x\"], interval = "
                                     "\"1s\", timeout = \"1s\" }\n")),
            "web.toml:3:69: service.web.monitor.timeout: expected a duration shorter than the "
            "interval (1s), got 1s: a run must end before the next one is due");
  EXPECT_EQ(config_error(web_service("monitor = { name = \"a\", command = [\"x\"], intervl = "
                                     "\"1s\" }\n")),
            "web.toml:3:42: unknown key 'intervl' in service.web.monitor; did you mean "
            "'interval'?");
  EXPECT_EQ(config_error(web_service("monitor = [ { name = \"a\", command = [\"x\"] },\n"
                                     "            { name = \"a\", command = [\"y\"] } ]\n")),
            "web.toml:4:22: service.web.monitor[1].name: another monitor of this service is "
            "named 'a'");
  EXPECT_EQ(config_error(web_service("monitor = \"./depth.sh\"\n")),
            "web.toml:3:11: service.web.monitor: expected a table { name = \"queue_depth\", "
            "command = [...], interval = \"10s\" }, got a string");
}

TEST(MonitorConfig, ValidateConfigChecksTheModelToo) {
  Config config = config_ok(web_service("monitor = { name = \"a\", command = [\"x\"] }\n"));
  config.services[0].monitors[0].timeout = 20s;
  auto status = validate_config(config);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.error().message,
            "service.web.monitor[0].timeout: expected a duration shorter than the interval (10s), "
            "got 20s: a run must end before the next one is due");
}

TEST(MonitorConfig, JsonRoundTripAndReload) {
  Config before = config_ok(web_service(
      "monitor = { name = \"queue_depth\", command = [\"./depth.sh\"], interval = \"2s\" }\n"));
  auto back = config_from_json(config_to_json(before));
  ASSERT_TRUE(back.ok()) << back.error().message;
  ASSERT_EQ(back->services[0].monitors.size(), 1u);
  EXPECT_EQ(back->services[0].monitors[0].command, before.services[0].monitors[0].command);
  EXPECT_EQ(back->services[0].monitors[0].timeout, 1s);

  Config after = before;
  after.services[0].monitors[0].interval = 5s;
  auto changes = diff_configs(before, after);
  ASSERT_TRUE(changes.ok());
  ASSERT_EQ(changes->services.size(), 1u);
  // Applied at once by the supervisor: no worker is replaced for a monitor.
  EXPECT_EQ(changes->services[0].kind, ServiceChange::Kind::rules);
  EXPECT_EQ(changes->services[0].fields, (std::vector<std::string>{"monitors"}));
}

}  // namespace
}  // namespace memvisor
