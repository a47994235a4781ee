// [supervisor] log_format: the default, the two values, an error with line:column, and the round
// trip through the controller's JSON.
#include <gtest/gtest.h>

#include "core/config/config_json.h"
#include "core/config/config_parse.h"

#include "core/config/config_test_text.h"

namespace memvisor {
namespace {

const std::string kWebService = "[service.web]\ncommand = [\"app\"]\n";

TEST(LogFormatConfig, DefaultValueAndRoundTrip) {
  auto defaults = parse_config(kWebService, "web.toml");
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->supervisor.log_format, "");
  auto set = parse_config("[supervisor]\nlog_format = \"json\"\n" + kWebService, "web.toml");
  ASSERT_TRUE(set) << set.error().describe();
  EXPECT_EQ(set->supervisor.log_format, "json");
  auto back = config_from_json(config_to_json(*set));
  ASSERT_TRUE(back) << back.error().describe();
  EXPECT_EQ(back->supervisor.log_format, "json");
}

TEST(LogFormatConfig, Errors) {
  EXPECT_EQ(config_error("[supervisor]\nlog_format = \"yaml\"\n" + kWebService),
            "web.toml:2:14: supervisor.log_format: expected \"text\" or \"json\", got 'yaml'");
  EXPECT_EQ(config_error("[supervisor]\nlog_format = 1\n" + kWebService),
            "web.toml:2:14: supervisor.log_format: expected \"text\" or \"json\", got an integer");
}

}  // namespace
}  // namespace memvisor
