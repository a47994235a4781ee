// The pre-fork keys (prefork, prefork_signal, prefork_timeout) through every way a config takes:
// the TOML reader with its FILE:LINE:COLUMN messages, validation, the JSON hand-off to the
// supervisor and the summary of `memvisor check`.
#include <gtest/gtest.h>

#include <csignal>

#include "core/config/config_json.h"
#include "core/config/config_parse.h"
#include "core/config/config_validate.h"

namespace memvisor {
namespace {

std::string error_of(std::string_view text) {
  auto parsed = parse_config(text, "web.toml");
  return parsed.ok() ? "parsed without error" : parsed.error().message;
}

std::string web(std::string_view rest) {
  return "[service.web]\ncommand = [\"app\"]\n" + std::string(rest);
}

TEST(PreforkConfig, DefaultsAreOffSigtermAndThirtySeconds) {
  auto parsed = parse_config(web(""), "web.toml");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  const ServiceConfig& s = parsed->services.at(0);
  EXPECT_FALSE(s.prefork);
  EXPECT_EQ(s.prefork_signal, SIGTERM);
  EXPECT_EQ(s.prefork_timeout, Millis(30000));
}

TEST(PreforkConfig, ReadsEveryKey) {
  auto parsed = parse_config(
      web("prefork = true\nprefork_signal = \"SIGQUIT\"\nprefork_timeout = \"5s\"\n"), "web.toml");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  const ServiceConfig& s = parsed->services.at(0);
  EXPECT_TRUE(s.prefork);
  EXPECT_EQ(s.prefork_signal, SIGQUIT);
  EXPECT_EQ(s.prefork_timeout, Millis(5000));
  auto numbered = parse_config(web("prefork_signal = 10\n"), "web.toml");
  ASSERT_TRUE(numbered.ok()) << numbered.error().message;
  EXPECT_EQ(numbered->services.at(0).prefork_signal, 10);
}

TEST(PreforkConfig, BadValuesSayWhere) {
  EXPECT_EQ(error_of(web("prefork = \"yes\"\n")),
            "web.toml:3:11: service.web.prefork: expected a boolean, got a string");
  EXPECT_EQ(error_of(web("prefork_signal = \"SIGFOO\"\n")),
            "web.toml:3:18: service.web.prefork_signal: expected a signal name like SIGINT or "
            "SIGTERM, got 'SIGFOO'");
  EXPECT_EQ(error_of(web("prefork_signal = 0\n")),
            "web.toml:3:18: service.web.prefork_signal: expected a signal between 1 and 64, got 0");
  EXPECT_EQ(error_of(web("prefork_signal = true\n")),
            "web.toml:3:18: service.web.prefork_signal: expected a signal name like SIGINT or "
            "SIGTERM, got a boolean");
  EXPECT_EQ(
      error_of(web("prefork_timeout = \"0s\"\n")),
      "web.toml:3:19: service.web.prefork_timeout: expected a duration greater than 0, got 0");
  EXPECT_EQ(error_of(web("prefork_timeout = \"soon\"\n")).substr(0, 45),
            "web.toml:3:19: service.web.prefork_timeout: e");
  EXPECT_EQ(
      error_of(web("prefork_count = 2\n")).rfind("web.toml:3:1: unknown key 'prefork_count'", 0),
      0u);
}

TEST(PreforkConfig, ValidationNamesTheField) {
  Config config;
  ServiceConfig& s = config.services.emplace_back();
  s.name = "web";
  s.command = {"app"};
  s.prefork_signal = 99;
  ASSERT_TRUE(find_config_problem(config));
  EXPECT_EQ(find_config_problem(config)->describe(),
            "service.web.prefork_signal: expected a signal between 1 and 64, got 99");
  s.prefork_signal = SIGTERM;
  s.prefork_timeout = Millis(0);
  EXPECT_EQ(find_config_problem(config)->describe(),
            "service.web.prefork_timeout: expected a duration greater than 0, got 0");
}

TEST(PreforkConfig, SurvivesTheJsonHandOff) {
  auto parsed = parse_config(
      web("prefork = true\nprefork_signal = \"SIGUSR2\"\nprefork_timeout = \"1500ms\"\n"),
      "web.toml");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  const nlohmann::json j = config_to_json(*parsed);
  EXPECT_EQ(j["services"][0]["prefork"], true);
  EXPECT_EQ(j["services"][0]["prefork_signal"], "SIGUSR2");
  EXPECT_EQ(j["services"][0]["prefork_timeout_ms"], 1500);
  auto back = config_from_json(nlohmann::json::parse(j.dump()));
  ASSERT_TRUE(back.ok()) << back.error().message;
  EXPECT_TRUE(back->services[0].prefork);
  EXPECT_EQ(back->services[0].prefork_signal, SIGUSR2);
  EXPECT_EQ(back->services[0].prefork_timeout, Millis(1500));

  nlohmann::json bad = j;
  bad["services"][0]["prefork_signal"] = "SIGFOO";
  auto refused = config_from_json(bad);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.error().message,
            "services[0].prefork_signal: expected a signal name, got \"SIGFOO\"");
}

TEST(PreforkConfig, CheckSummarySaysPrefork) {
  auto parsed =
      parse_config(web("instances = 2\nprefork = true\nlimit = \"400MiB\"\n"), "web.toml");
  ASSERT_TRUE(parsed.ok()) << parsed.error().message;
  EXPECT_EQ(describe_config(*parsed),
            "ok: web.toml: 1 service, 2 instances (web ×2 prefork [limit 400MiB])");
}

}  // namespace
}  // namespace memvisor
