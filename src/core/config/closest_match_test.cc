// Edit distance and the "did you mean" choice.
#include "core/config/closest_match.h"

#include <gtest/gtest.h>

#include <array>

namespace memvisor {
namespace {

constexpr std::array<std::string_view, 8> kKeys{"command", "instances",   "env",          "cwd",
                                                "restart", "stop_signal", "stop_timeout", "user"};

TEST(EditDistance, OptimalStringAlignment) {
  EXPECT_EQ(edit_distance("", ""), 0u);
  EXPECT_EQ(edit_distance("", "abc"), 3u);
  EXPECT_EQ(edit_distance("abc", ""), 3u);
  EXPECT_EQ(edit_distance("kitten", "sitting"), 3u);
  EXPECT_EQ(edit_distance("instnces", "instances"), 1u);   // deletion
  EXPECT_EQ(edit_distance("insatnces", "instances"), 1u);  // transposition
  EXPECT_EQ(edit_distance("ca", "abc"), 3u);  // OSA, not unrestricted Damerau (which gives 2)
  EXPECT_EQ(edit_distance("COMMAND", "command"), 0u);  // case-insensitive
  EXPECT_EQ(edit_distance("abcdef", "badcfe"), 3u);
}

TEST(ClosestMatch, SuggestsNearKeys) {
  EXPECT_EQ(closest_match("instnces", kKeys), "instances");
  EXPECT_EQ(closest_match("comand", kKeys), "command");
  EXPECT_EQ(closest_match("Command", kKeys), "command");
  EXPECT_EQ(closest_match("stop_timout", kKeys), "stop_timeout");
  EXPECT_EQ(closest_match("stop_signl", kKeys), "stop_signal");
  EXPECT_EQ(closest_match("restrat", kKeys), "restart");
  EXPECT_EQ(closest_match("evn", kKeys), "env");
  EXPECT_EQ(closest_match("usr", kKeys), "user");
}

TEST(ClosestMatch, NothingWhenFar) {
  EXPECT_EQ(closest_match("banana", kKeys), std::nullopt);
  EXPECT_EQ(closest_match("", kKeys), std::nullopt);
  EXPECT_EQ(closest_match("x", kKeys), std::nullopt);
  EXPECT_EQ(closest_match("ab", std::array<std::string_view, 1>{"cd"}), std::nullopt);
  EXPECT_EQ(closest_match("instances", std::span<const std::string_view>{}), std::nullopt);
}

TEST(ClosestMatch, LongWordsAllowMoreEdits) {
  // The limit is a third of the typed word, and at least 2.
  constexpr std::array<std::string_view, 1> kLong{"restart_delay_max"};
  EXPECT_EQ(closest_match("restart_dly_mx", kLong), "restart_delay_max");  // 3 edits, 14 chars
  EXPECT_EQ(closest_match("rstrt_dly_mx", kLong), std::nullopt);           // 5 edits, 12 chars
}

TEST(ClosestMatch, TiesGoToTheFirstCandidate) {
  constexpr std::array<std::string_view, 2> kTwo{"abcd", "abce"};
  EXPECT_EQ(closest_match("abcf", kTwo), "abcd");
}

}  // namespace
}  // namespace memvisor
