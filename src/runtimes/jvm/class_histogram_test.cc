#include "runtimes/jvm/class_histogram.h"

#include <gtest/gtest.h>

#include "runtimes/jvm/attach_protocol.h"
#include "runtimes/jvm/jvm_test_fixtures.h"

namespace memvisor {
namespace {

ClassHistogram histogram_fixture(const char* name) {
  auto reply = parse_attach_reply(jvm_fixture(name));
  EXPECT_TRUE(reply.ok());
  if (!reply.ok()) return {};
  auto parsed = parse_class_histogram(reply->output);
  EXPECT_TRUE(parsed.ok()) << parsed.error().message;
  return parsed.ok() ? *parsed : ClassHistogram{};
}

TEST(ClassHistogram, RealHistogramByJavaTypeName) {
  // "   1:        115271       24297520  [B (java.base@17.0.15)"
  const ClassHistogram before = histogram_fixture("reply_class_histogram_before.txt");
  ASSERT_TRUE(before.count("byte[]"));
  EXPECT_EQ(before.at("byte[]").instances, 115271u);
  EXPECT_EQ(before.at("byte[]").bytes, 24297520u);
  EXPECT_EQ(before.at("java.util.HashMap$Node").instances, 104277u);
  EXPECT_TRUE(before.count("java.lang.Object[]"));  // "[Ljava.lang.Object;"
  EXPECT_FALSE(before.count("Total"));
  for (const auto& [type, count] : before) {
    EXPECT_EQ(type.find(' '), std::string::npos) << type;  // the module is cut off
    EXPECT_EQ(type.find('('), std::string::npos) << type;
  }
}

TEST(ClassHistogram, GrowthOfTheWindowLeakingMapComesFirst) {
  // Captured around a 2 s window of OrderBook's "map" mode: strings kept in a HashMap.
  const auto growth = class_growth(histogram_fixture("reply_class_histogram_before.txt"),
                                   histogram_fixture("reply_class_histogram_after.txt"));
  ASSERT_GE(growth.size(), 4u);
  EXPECT_EQ(growth[0].type, "byte[]");
  EXPECT_GT(growth[0].bytes, 0);
  bool node_grew = false;
  for (const ClassGrowth& g : growth)
    if (g.type == "java.util.HashMap$Node") node_grew = g.instances > 0;
  EXPECT_TRUE(node_grew);
  for (size_t i = 1; i < growth.size(); ++i) EXPECT_GE(growth[i - 1].bytes, growth[i].bytes);
}

TEST(ClassHistogram, ShrinkingAndVanishingClassesAreNegative) {
  ClassHistogram before{{"A", {10, 100}}, {"Gone", {1, 16}}, {"Same", {2, 32}}};
  ClassHistogram after{{"A", {4, 40}}, {"New", {3, 48}}, {"Same", {2, 32}}};
  const auto growth = class_growth(before, after);
  ASSERT_EQ(growth.size(), 3u);
  EXPECT_EQ(growth[0].type, "New");
  EXPECT_EQ(growth[0].bytes, 48);
  EXPECT_EQ(growth[1].type, "Gone");
  EXPECT_EQ(growth[1].bytes, -16);
  EXPECT_EQ(growth[2].type, "A");
  EXPECT_EQ(growth[2].instances, -6);
}

TEST(ClassHistogram, SameNameFromTwoLoadersIsSummed) {
  auto parsed = parse_class_histogram(
      " num     #instances         #bytes  class name (module)\n"
      "-------------------------------------------------------\n"
      "   1:            10            160  com.example.Foo\n"
      "   2:             5             80  com.example.Foo\n"
      "   3:             1             24  com.example.Bar$$Lambda$14/0x0000000800c03000\n"
      "Total            16            264\n");
  ASSERT_TRUE(parsed.ok());
  EXPECT_EQ(parsed->at("com.example.Foo").instances, 15u);
  EXPECT_EQ(parsed->at("com.example.Foo").bytes, 240u);
  EXPECT_TRUE(parsed->count("com.example.Bar$$Lambda$14/0x0000000800c03000"));
}

TEST(ClassHistogram, AnErrorMessageIsNoHistogram) {
  auto parsed = parse_class_histogram("java.lang.IllegalArgumentException: Unknown command\n");
  ASSERT_FALSE(parsed.ok());
  EXPECT_NE(parsed.error().message.find("Unknown command"), std::string::npos);
  EXPECT_FALSE(parse_class_histogram("").ok());
}

}  // namespace
}  // namespace memvisor
