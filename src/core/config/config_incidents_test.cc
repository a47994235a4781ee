// [supervisor] incidents_keep and incidents_max_size: defaults, values, errors with line:column,
// and the round trip through the controller's JSON.
#include <gtest/gtest.h>

#include "core/config/config_json.h"
#include "core/config/config_parse.h"

#include "core/config/config_test_text.h"

namespace memvisor {
namespace {

const std::string kWeb = "[service.web]\ncommand = [\"app\"]\n";

TEST(IncidentsConfig, DefaultsAndValues) {
  auto defaults = parse_config(kWeb, "web.toml");
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->supervisor.incidents_keep, 50);
  EXPECT_EQ(defaults->supervisor.incidents_max_size, uint64_t{500} << 20);
  auto set = parse_config(
      "[supervisor]\nincidents_keep = 3\nincidents_max_size = \"20MiB\"\n" + kWeb, "web.toml");
  ASSERT_TRUE(set) << set.error().describe();
  EXPECT_EQ(set->supervisor.incidents_keep, 3);
  EXPECT_EQ(set->supervisor.incidents_max_size, uint64_t{20} << 20);
  auto back = config_from_json(config_to_json(*set));
  ASSERT_TRUE(back) << back.error().describe();
  EXPECT_EQ(back->supervisor.incidents_keep, 3);
  EXPECT_EQ(back->supervisor.incidents_max_size, uint64_t{20} << 20);
}

TEST(IncidentsConfig, Errors) {
  EXPECT_EQ(config_error("[supervisor]\nincidents_keep = 0\n" + kWeb),
            "web.toml:2:18: supervisor.incidents_keep: expected a positive integer, got 0");
  EXPECT_EQ(config_error("[supervisor]\nincidents_keep = \"5\"\n" + kWeb),
            "web.toml:2:18: supervisor.incidents_keep: expected an integer, got a string");
  EXPECT_EQ(config_error("[supervisor]\nincidents_max_size = \"lots\"\n" + kWeb),
            "web.toml:2:22: supervisor.incidents_max_size: expected a size like 500MiB, 2GB or "
            "1.5GiB, got 'lots'");
  EXPECT_EQ(config_error("[supervisor]\nincident_keep = 5\n" + kWeb),
            "web.toml:2:1: unknown key 'incident_keep' in [supervisor]; did you mean "
            "'incidents_keep'?");
}

}  // namespace
}  // namespace memvisor
