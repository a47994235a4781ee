// memvisor's own CPU, memory and start time: the parser on captured text, the reader on itself.
#include "os/process_usage.h"

#include <gtest/gtest.h>
#include <unistd.h>

namespace memvisor {
namespace {

// A real /proc/PID/stat line (a python3 worker), comm with a space and a ')' to be sure.
constexpr std::string_view kStat =
    "4242 (my worker) x) S 4200 4242 4200 0 -1 4194560 1523 0 0 0 250 75 0 0 20 0 1 0 "
    "123456 31186944 2560 18446744073709551615 1 1 0 0 0 0 0 16781312 2 0 0 0 17 1 0 0 0 0 0\n";

TEST(ProcessUsage, ParsesCpuRssAndStart) {
  ProcessClock clock{100, 4096, 1'700'000'000};
  auto usage = parse_process_usage(kStat, clock, "supervisor");
  ASSERT_TRUE(usage.has_value());
  EXPECT_EQ(usage->process, "supervisor");
  EXPECT_DOUBLE_EQ(usage->cpu_seconds, 3.25);              // (250 + 75) / 100
  EXPECT_DOUBLE_EQ(usage->resident_bytes, 2560.0 * 4096);  // 10 MiB
  EXPECT_DOUBLE_EQ(usage->start_time_seconds, 1'700'001'234.56);
}

TEST(ProcessUsage, RejectsTruncatedOrGarbage) {
  ProcessClock clock;
  EXPECT_FALSE(parse_process_usage("", clock, "x").has_value());
  EXPECT_FALSE(parse_process_usage("1 (a) S 1 2 3", clock, "x").has_value());
  std::string bad_utime(kStat);
  bad_utime.replace(bad_utime.find(" 250 "), 5, " 2x0 ");
  EXPECT_FALSE(parse_process_usage(bad_utime, clock, "x").has_value());
}

TEST(ProcessUsage, BootTime) {
  EXPECT_EQ(parse_boot_time("cpu  1 2 3\nintr 5\nbtime 1763800000\nprocesses 9\n"), 1763800000.0);
  EXPECT_FALSE(parse_boot_time("cpu 1\n").has_value());
  EXPECT_FALSE(parse_boot_time("btime x\n").has_value());
}

TEST(ProcessUsage, ReadsThisProcess) {
  auto clock = read_process_clock();
  ASSERT_TRUE(clock.ok()) << clock.error().describe();
  auto usage = read_process_usage(::getpid(), *clock, "self");
  ASSERT_TRUE(usage.ok()) << usage.error().describe();
  EXPECT_GT(usage->resident_bytes, 1 << 20);  // a gtest binary has more than 1 MiB resident
  EXPECT_GT(usage->start_time_seconds, clock->boot_time_s);
  EXPECT_GE(usage->cpu_seconds, 0);
}

}  // namespace
}  // namespace memvisor
