#include "runtimes/jvm/hsperfdata.h"

#include <gtest/gtest.h>

#include "runtimes/jvm/jvm_test_fixtures.h"

namespace memvisor {
namespace {

TEST(PerfData, AttachableJvm) {
  auto perf = parse_perf_data(jvm_fixture("hsperfdata_attachable"));
  ASSERT_TRUE(perf.ok()) << perf.error().message;
  EXPECT_EQ(perf->attach_supported(), true);
  EXPECT_EQ(perf->texts.at("java.property.java.vm.name"), "OpenJDK 64-Bit Server VM");
  ASSERT_TRUE(perf->heap_used().has_value());
  EXPECT_GT(*perf->heap_used(), 1u << 20);
  EXPECT_LT(*perf->heap_used(), 128u << 20);  // -Xmx128m
}

TEST(PerfData, DisableAttachMechanismShowsInTheCapabilities) {
  auto perf = parse_perf_data(jvm_fixture("hsperfdata_attach_disabled"));
  ASSERT_TRUE(perf.ok());
  EXPECT_EQ(perf->attach_supported(), false);
  EXPECT_EQ(perf->texts.at("java.rt.vmArgs").find("-XX:+DisableAttachMechanism"), 0u);
}

TEST(PerfData, GarbageAndTruncatedFilesNeverCrash) {
  EXPECT_FALSE(parse_perf_data("").ok());
  EXPECT_FALSE(parse_perf_data(std::string(64, 'x')).ok());
  const std::string real = jvm_fixture("hsperfdata_attachable");
  // Every cut of a real file parses or fails cleanly; what it finds is never invented.
  for (size_t size = 0; size < real.size(); size += 97) {
    auto perf = parse_perf_data(real.substr(0, size));
    if (perf.ok() && perf->attach_supported()) {
      EXPECT_TRUE(*perf->attach_supported());
    }
  }
  std::string bad = real;
  bad[28] = '\x7f';  // an absurd entry count
  bad[29] = '\x7f';
  (void)parse_perf_data(bad);
}

TEST(PerfData, NoCapabilitiesIsUnknown) {
  PerfData perf;
  EXPECT_FALSE(perf.attach_supported().has_value());
  EXPECT_FALSE(perf.heap_used().has_value());
  perf.numbers["sun.gc.generation.0.space.0.used"] = 10;
  perf.numbers["sun.gc.generation.1.space.0.used"] = 5;
  perf.numbers["sun.gc.generation.0.space.0.capacity"] = 1000;
  EXPECT_EQ(perf.heap_used(), 15u);
}

}  // namespace
}  // namespace memvisor
