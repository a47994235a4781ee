// diff_configs: which changes a reload applies in place, which replace processes, and what it
// refuses.
#include "core/config/config_diff.h"

#include <gtest/gtest.h>

#include "core/config/config_test_text.h"

namespace memvisor {
namespace {

ConfigChanges changes_between(std::string_view before, std::string_view after) {
  auto changes = diff_configs(config_ok(before), config_ok(after));
  EXPECT_TRUE(changes.ok()) << changes.error().message;
  return changes.ok() ? *changes : ConfigChanges{};
}

TEST(ConfigDiff, TheSameFileChangesNothing) {
  const std::string text = web_service("instances = 2\nlimit = \"300MiB\"\n");
  EXPECT_TRUE(changes_between(text, text).empty());
}

TEST(ConfigDiff, RulesAndStopSettingsApplyInPlace) {
  const auto changes = changes_between(
      web_service("limit = \"300MiB\"\ninterval = \"1s\"\nstop_timeout = \"10s\"\n"),
      web_service("limit = \"200MiB\"\ninterval = \"200ms\"\nstop_timeout = \"20s\"\n"
                  "leak = { rate = \"10MiB/h\" }\n"));
  ASSERT_EQ(changes.services.size(), 1u);
  EXPECT_EQ(changes.services[0].kind, ServiceChange::Kind::rules);
  EXPECT_EQ(changes.services[0].fields, (std::vector<std::string>{"memory.interval", "memory.leak",
                                                                  "memory.limit", "stop_timeout"}));
  EXPECT_EQ(describe(changes.services[0]),
            "web: memory.interval, memory.leak, memory.limit, stop_timeout changed, applied at "
            "once");
}

TEST(ConfigDiff, ASpawnSettingRollsTheServiceAndRulesBesideItAreNamedApart) {
  const auto changes =
      changes_between(web_service("env = { A = \"1\" }\nlimit = \"300MiB\"\n"),
                      "[service.web]\ncommand = [\"app\", \"--fast\"]\nenv = { A = \"2\" }\n"
                      "limit = \"250MiB\"\n");
  ASSERT_EQ(changes.services.size(), 2u);
  EXPECT_EQ(changes.services[0].kind, ServiceChange::Kind::rolled);
  EXPECT_EQ(changes.services[0].fields, (std::vector<std::string>{"command", "env"}));
  EXPECT_EQ(changes.services[1].kind, ServiceChange::Kind::rules);
}

TEST(ConfigDiff, EveryKindOfSpawnSettingRolls) {
  for (const char* line : {"cwd = \"/tmp\"", "listen = \"127.0.0.1:8123\"", "ready = \"notify\"",
                           "heap_sampler = true", "cgroup = true", "prefork = true",
                           "output = \"file\"", "watchdog = \"5s\""}) {
    const auto changes = changes_between(web_service(""), web_service(std::string(line) + "\n"));
    ASSERT_FALSE(changes.services.empty()) << line;
    EXPECT_EQ(changes.services[0].kind, ServiceChange::Kind::rolled) << line;
  }
}

TEST(ConfigDiff, InstanceCountsServicesAddedAndRemoved) {
  const auto changes = changes_between(
      web_service("instances = 2\n") + "[service.jobs]\ncommand = [\"jobs\"]\n",
      web_service("instances = 4\n") + "[service.mail]\ncommand = [\"mail\"]\ninstances = 3\n");
  ASSERT_EQ(changes.services.size(), 3u);
  EXPECT_EQ(changes.services[0].kind, ServiceChange::Kind::instances);
  EXPECT_EQ(changes.services[0].instances_before, 2);
  EXPECT_EQ(changes.services[0].instances_after, 4);
  EXPECT_EQ(describe(changes.services[0]), "web: instances 2 → 4");
  EXPECT_EQ(changes.services[1].kind, ServiceChange::Kind::added);
  EXPECT_EQ(changes.services[1].service, "mail");
  EXPECT_EQ(changes.services[2].kind, ServiceChange::Kind::removed);
  EXPECT_EQ(changes.services[2].service, "jobs");
  EXPECT_EQ(describe(changes.services[2]), "jobs: removed, stopping 1 instance(s)");
}

TEST(ConfigDiff, SupervisorKeysApplyButTheStateDirIsRefused) {
  const auto changes =
      changes_between("[supervisor]\nhttp = \"127.0.0.1:9000\"\n" + web_service(""),
                      "[supervisor]\nhttp = \"127.0.0.1:9001\"\n" + web_service(""));
  EXPECT_EQ(changes.supervisor, (std::vector<std::string>{"http"}));

  auto refused =
      diff_configs(config_ok("[supervisor]\nstate_dir = \"/tmp/a\"\n" + web_service("")),
                   config_ok("[supervisor]\nstate_dir = \"/tmp/b\"\n" + web_service("")));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("supervisor.state_dir"), std::string::npos);
}

}  // namespace
}  // namespace memvisor
