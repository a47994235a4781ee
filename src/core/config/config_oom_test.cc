// oom_score_adj: [supervisor] (memvisor's own processes) and per service (its workers):
// defaults, values, the kernel's range with line:column, and the round trip through the JSON.
#include <gtest/gtest.h>

#include "core/config/config_json.h"
#include "core/config/config_parse.h"

#include "core/config/config_test_text.h"

namespace memvisor {
namespace {

const std::string kApp = "[service.web]\ncommand = [\"app\"]\n";

TEST(OomScoreConfig, DefaultsAndValues) {
  auto defaults = parse_config(kApp, "web.toml");
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->supervisor.oom_score_adj, -900);
  EXPECT_EQ(defaults->services.at(0).oom_score_adj, 0);
  auto set = parse_config("[supervisor]\noom_score_adj = -1000\n" + kApp + "oom_score_adj = 500\n",
                          "web.toml");
  ASSERT_TRUE(set) << set.error().describe();
  EXPECT_EQ(set->supervisor.oom_score_adj, -1000);
  EXPECT_EQ(set->services.at(0).oom_score_adj, 500);
  auto back = config_from_json(config_to_json(*set));
  ASSERT_TRUE(back) << back.error().describe();
  EXPECT_EQ(back->supervisor.oom_score_adj, -1000);
  EXPECT_EQ(back->services.at(0).oom_score_adj, 500);
}

TEST(OomScoreConfig, Errors) {
  EXPECT_EQ(config_error("[supervisor]\noom_score_adj = -1001\n" + kApp),
            "web.toml:2:17: supervisor.oom_score_adj: expected -1000 to 1000 (the kernel's "
            "oom_score_adj), got -1001");
  EXPECT_EQ(config_error(kApp + "oom_score_adj = 1001\n"),
            "web.toml:3:17: service.web.oom_score_adj: expected -1000 to 1000 (the kernel's "
            "oom_score_adj), got 1001");
  EXPECT_EQ(config_error(kApp + "oom_score_adj = \"low\"\n"),
            "web.toml:3:17: service.web.oom_score_adj: expected an integer, got a string");
}

}  // namespace
}  // namespace memvisor
