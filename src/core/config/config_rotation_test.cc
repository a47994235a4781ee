// Log rotation keys: [supervisor] events_max_size and events_keep, per-service log_max_size and
// log_keep. Defaults, values ("0" = never), errors with line:column, the JSON round trip, and a
// reload applying them in place (no service rolled).
#include <gtest/gtest.h>

#include "core/config/config_diff.h"
#include "core/config/config_json.h"
#include "core/config/config_parse.h"

#include "core/config/config_test_text.h"

namespace memvisor {
namespace {

const std::string kWebFile = "[service.web]\ncommand = [\"app\"]\noutput = \"file\"\n";

TEST(RotationConfig, DefaultsAndValues) {
  auto defaults = parse_config(kWebFile, "web.toml");
  ASSERT_TRUE(defaults);
  EXPECT_EQ(defaults->supervisor.events_max_size, uint64_t{64} << 20);
  EXPECT_EQ(defaults->supervisor.events_keep, 3);
  EXPECT_EQ(defaults->services[0].log_max_size, uint64_t{64} << 20);
  EXPECT_EQ(defaults->services[0].log_keep, 3);
  auto set = parse_config("[supervisor]\nevents_max_size = \"4KiB\"\nevents_keep = 5\n" + kWebFile +
                              "log_max_size = \"0\"\nlog_keep = 1\n",
                          "web.toml");
  ASSERT_TRUE(set) << set.error().describe();
  EXPECT_EQ(set->supervisor.events_max_size, 4096u);
  EXPECT_EQ(set->supervisor.events_keep, 5);
  EXPECT_EQ(set->services[0].log_max_size, 0u);  // never rotated
  EXPECT_EQ(set->services[0].log_keep, 1);
  auto back = config_from_json(config_to_json(*set));
  ASSERT_TRUE(back) << back.error().describe();
  EXPECT_EQ(back->supervisor.events_max_size, 4096u);
  EXPECT_EQ(back->supervisor.events_keep, 5);
  EXPECT_EQ(back->services[0].log_max_size, 0u);
  EXPECT_EQ(back->services[0].log_keep, 1);
}

TEST(RotationConfig, Errors) {
  EXPECT_EQ(config_error("[supervisor]\nevents_keep = 0\n" + kWebFile),
            "web.toml:2:15: supervisor.events_keep: expected a positive integer, got 0");
  EXPECT_EQ(config_error("[supervisor]\nevents_keep = 5000\n" + kWebFile),
            "web.toml:2:15: supervisor.events_keep: expected at most 1000 rotated files, got 5000");
  EXPECT_EQ(config_error("[supervisor]\nevents_max_size = \"big\"\n" + kWebFile),
            "web.toml:2:19: supervisor.events_max_size: expected a size like 500MiB, 2GB or "
            "1.5GiB, got 'big'");
  EXPECT_EQ(config_error(kWebFile + "log_max_size = \"10 MiB\"\n"),
            "web.toml:4:16: service.web.log_max_size: expected a size like 500MiB, 2GB or "
            "1.5GiB, got '10 MiB'");
  EXPECT_EQ(config_error(kWebFile + "log_keep = -1\n"),
            "web.toml:4:12: service.web.log_keep: expected a positive integer, got -1");
  EXPECT_EQ(config_error(kWebFile + "log_keep = \"3\"\n"),
            "web.toml:4:12: service.web.log_keep: expected an integer, got a string");
}

TEST(RotationConfig, ReloadAppliesInPlace) {
  auto before = parse_config(kWebFile, "web.toml");
  auto after = parse_config(
      "[supervisor]\nevents_keep = 2\n" + kWebFile + "log_max_size = \"1MiB\"\n", "web.toml");
  ASSERT_TRUE(before && after);
  auto changes = diff_configs(*before, *after);
  ASSERT_TRUE(changes);
  EXPECT_EQ(changes->supervisor, std::vector<std::string>{"events_keep"});
  ASSERT_EQ(changes->services.size(), 1u);
  EXPECT_EQ(changes->services[0].kind, ServiceChange::Kind::rules);  // no process replaced
  EXPECT_EQ(changes->services[0].fields, std::vector<std::string>{"log_max_size"});
}

}  // namespace
}  // namespace memvisor
