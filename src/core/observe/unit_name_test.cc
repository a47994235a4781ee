// Unit names: an instance, or a pre-fork child after a slash, both ways.
#include "core/observe/unit_name.h"

#include <gtest/gtest.h>

namespace memvisor {
namespace {

TEST(UnitName, Formats) {
  EXPECT_EQ(unit_name("web", 0), "web");
  EXPECT_EQ(unit_name("web", 1), "web.1");
  EXPECT_EQ(unit_name("web", 1, 12345), "web.1/12345");
  EXPECT_EQ(unit_name("web", 0, 12345), "web");  // a child belongs to an instance
}

TEST(UnitName, ParsesWhatItFormats) {
  for (const auto& [service, instance, child] :
       {std::tuple{"web", 0, 0}, std::tuple{"web", 2, 0}, std::tuple{"web", 2, 77},
        std::tuple{"my.app", 3, 9}}) {
    auto parsed = parse_unit_name(unit_name(service, instance, child));
    ASSERT_TRUE(parsed) << unit_name(service, instance, child);
    EXPECT_EQ(parsed->service, service);
    EXPECT_EQ(parsed->instance, instance);
    EXPECT_EQ(parsed->child, child);
  }
}

TEST(UnitName, RefusesBadNames) {
  EXPECT_FALSE(parse_unit_name(""));
  EXPECT_FALSE(parse_unit_name("web/12"));     // a child needs its instance
  EXPECT_FALSE(parse_unit_name("web.1/"));     // no pid
  EXPECT_FALSE(parse_unit_name("web.1/0"));    // not a pid
  EXPECT_FALSE(parse_unit_name("web.1/-3"));   // not a pid
  EXPECT_FALSE(parse_unit_name("web.1/12x"));  // not a number
  EXPECT_FALSE(parse_unit_name(".1/12"));      // no service
  auto odd = parse_unit_name("web.x");         // not an instance number: part of the service's name
  ASSERT_TRUE(odd);
  EXPECT_EQ(odd->service, "web.x");
  EXPECT_EQ(odd->instance, 0);
}

}  // namespace
}  // namespace memvisor
