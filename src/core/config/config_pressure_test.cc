// [supervisor] pressure: defaults, every key, the JSON round trip, and errors with line:column.
#include <gtest/gtest.h>

#include "core/config/config_json.h"
#include "core/config/config_parse.h"
#include "core/config/config_pressure.h"
#include "core/config/config_test_text.h"

namespace memvisor {
namespace {

const std::string kPressureWeb = "[service.web]\ncommand = [\"app\"]\n";

TEST(PressureConfig, OffByDefault) {
  EXPECT_FALSE(config_ok(kPressureWeb).supervisor.pressure.has_value());
}

TEST(PressureConfig, EveryKeyAndTheJsonRoundTrip) {
  const Config config = config_ok(
      "[supervisor]\npressure = { some = \"10%\", full = \"2.5%\", window = \"4s\", "
      "action = \"alert\", pick = \"fastest\", source = \"/sys/fs/cgroup/x/memory.pressure\" }\n" +
      kPressureWeb);
  ASSERT_TRUE(config.supervisor.pressure);
  const PressureRule& rule = *config.supervisor.pressure;
  EXPECT_EQ(rule.some_percent, 10.0);
  EXPECT_EQ(rule.full_percent, 2.5);
  EXPECT_EQ(rule.window, Millis(4000));
  EXPECT_EQ(rule.action, PressureAction::alert);
  EXPECT_EQ(rule.pick, PressurePick::fastest);
  EXPECT_EQ(rule.source, "/sys/fs/cgroup/x/memory.pressure");
  auto back = config_from_json(config_to_json(config));
  ASSERT_TRUE(back) << back.error().describe();
  ASSERT_TRUE(back->supervisor.pressure);
  EXPECT_EQ(back->supervisor.pressure->full_percent, 2.5);
  EXPECT_EQ(back->supervisor.pressure->window, Millis(4000));
  EXPECT_EQ(back->supervisor.pressure->pick, PressurePick::fastest);
  EXPECT_EQ(back->supervisor.pressure->source, rule.source);
}

TEST(PressureConfig, Defaults) {
  const Config config = config_ok("[supervisor]\npressure = { full = \"5%\" }\n" + kPressureWeb);
  ASSERT_TRUE(config.supervisor.pressure);
  EXPECT_FALSE(config.supervisor.pressure->some_percent);
  EXPECT_EQ(config.supervisor.pressure->window, Millis(10000));
  EXPECT_EQ(config.supervisor.pressure->action, PressureAction::recycle);
  EXPECT_EQ(config.supervisor.pressure->pick, PressurePick::largest);
  EXPECT_EQ(config.supervisor.pressure->source, "host");
  auto back = config_from_json(config_to_json(config));
  ASSERT_TRUE(back) << back.error().describe();
  EXPECT_FALSE(back->supervisor.pressure->some_percent);
}

TEST(PressureConfig, Errors) {
  EXPECT_EQ(config_error("[supervisor]\npressure = { some = \"110%\" }\n" + kPressureWeb),
            "web.toml:2:21: supervisor.pressure.some: expected a share of the window like "
            "\"10%\" (above 0, at most 100%), got '110%'");
  EXPECT_EQ(config_error("[supervisor]\npressure = { some = 10 }\n" + kPressureWeb),
            "web.toml:2:21: supervisor.pressure.some: expected a share of the window like "
            "\"10%\", got an integer");
  EXPECT_EQ(
      config_error("[supervisor]\npressure = { some = \"10%\", window = \"1m\" }\n" + kPressureWeb),
      "web.toml:2:37: supervisor.pressure.window: expected 500ms to 10s (the kernel's PSI "
      "trigger window)");
  EXPECT_EQ(config_error("[supervisor]\npressure = { window = \"5s\" }\n" + kPressureWeb),
            "web.toml:2:12: supervisor.pressure: needs 'some' or 'full' (a share of the window "
            "like \"10%\")");
  EXPECT_EQ(config_error("[supervisor]\npressure = { some = \"10%\", pick = \"oldest\" }\n" +
                         kPressureWeb),
            "web.toml:2:35: supervisor.pressure.pick: expected one of largest, fastest, got "
            "'oldest'");
  EXPECT_EQ(
      config_error("[supervisor]\npressure = { some = \"10%\", source = \"proc\" }\n" +
                   kPressureWeb),
      "web.toml:2:37: supervisor.pressure.source: expected \"host\", \"cgroup\" or the absolute "
      "path of a PSI file, got 'proc'");
  EXPECT_NE(
      config_error("[supervisor]\npressure = { some = \"10%\", sme = \"1%\" }\n" + kPressureWeb)
          .find("sme"),
      std::string::npos);
}

TEST(PressureConfig, Percent) {
  std::string why;
  EXPECT_EQ(parse_percent("0.5%", why), 0.5);
  EXPECT_EQ(parse_percent("100%", why), 100.0);
  EXPECT_FALSE(parse_percent("0%", why));
  EXPECT_FALSE(parse_percent("10", why));
  EXPECT_FALSE(parse_percent("%", why));
  EXPECT_FALSE(parse_percent("ten%", why));
}

}  // namespace
}  // namespace memvisor
