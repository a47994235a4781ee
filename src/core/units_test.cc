// Sizes, durations, rates and signals: exact values, edge cases and the messages for bad input.
#include "core/units.h"

#include <gtest/gtest.h>

#include <csignal>

namespace memvisor {
namespace {

uint64_t size(std::string_view text) {
  auto parsed = parse_size(text);
  EXPECT_TRUE(parsed.ok()) << text << ": " << parsed.error().message;
  return parsed.ok() ? *parsed : 0;
}

std::string size_error(std::string_view text) {
  auto parsed = parse_size(text);
  return parsed.ok() ? "parsed as " + std::to_string(*parsed) : parsed.error().message;
}

int64_t ms(std::string_view text) {
  auto parsed = parse_duration(text);
  EXPECT_TRUE(parsed.ok()) << text << ": " << parsed.error().message;
  return parsed.ok() ? parsed->count() : -1;
}

std::string duration_error(std::string_view text) {
  auto parsed = parse_duration(text);
  return parsed.ok() ? "parsed as " + std::to_string(parsed->count()) : parsed.error().message;
}

TEST(ParseSize, BinaryAndDecimalUnits) {
  EXPECT_EQ(size("4096"), 4096u);
  EXPECT_EQ(size("100B"), 100u);
  EXPECT_EQ(size("512KiB"), 512u * 1024);
  EXPECT_EQ(size("500MiB"), 500u * 1024 * 1024);
  EXPECT_EQ(size("1.5GiB"), 1610612736u);
  EXPECT_EQ(size("2TiB"), 2ull << 40);
  EXPECT_EQ(size("10kB"), 10'000u);
  EXPECT_EQ(size("10KB"), 10'000u);
  EXPECT_EQ(size("10MB"), 10'000'000u);
  EXPECT_EQ(size("2GB"), 2'000'000'000u);
  EXPECT_EQ(size("3TB"), 3'000'000'000'000u);
  EXPECT_EQ(size("0"), 0u);
  EXPECT_EQ(size("0MiB"), 0u);
}

TEST(ParseSize, FractionsRoundDown) {
  EXPECT_EQ(size("0.5KiB"), 512u);
  EXPECT_EQ(size("0.001KiB"), 1u);  // 1.024 bytes
  EXPECT_EQ(size("0.0001KiB"), 0u);
  EXPECT_EQ(size("1.5"), 1u);
  EXPECT_EQ(size("1.999B"), 1u);
  EXPECT_EQ(size("0.1GB"), 100'000'000u);
  EXPECT_EQ(size("1.0000000000000000000000001MiB"), 1u << 20);  // digits past the 18th ignored
}

TEST(ParseSize, LargestValues) {
  EXPECT_EQ(size("18446744073709551615"), 18446744073709551615u);
  EXPECT_EQ(size("16777215.9999999TiB"), 18446744073709441664u);
  EXPECT_EQ(size_error("18446744073709551616"),
            "expected a size below 16 EiB, got '18446744073709551616'");
  EXPECT_EQ(size_error("99999999999TiB"), "expected a size below 16 EiB, got '99999999999TiB'");
  EXPECT_EQ(size_error("16777216TiB"), "expected a size below 16 EiB, got '16777216TiB'");
  EXPECT_EQ(size_error("999999999999999999999999999999999GB"),
            "expected a size below 16 EiB, got '999999999999999999999999999999999GB'");
}

TEST(ParseSize, RejectsMalformed) {
  for (std::string_view bad :
       {"",        "-1",     "-1MiB", "+1MiB", "MiB",   "1.5 GiB", " 1MiB", "1MiB ",
        "1mib",    "1mb",    "1Mi",   "1M",    "1K",    "1PiB",    "1.MiB", ".5MiB",
        "1..5MiB", "1,5MiB", "1e3",   "0x10",  "1MiBB", "1B2"}) {
    EXPECT_EQ(size_error(bad),
              "expected a size like 500MiB, 2GB or 1.5GiB, got '" + std::string(bad) + "'");
  }
}

TEST(ParseDuration, UnitsAndCompounds) {
  EXPECT_EQ(ms("0"), 0);
  EXPECT_EQ(ms("0s"), 0);
  EXPECT_EQ(ms("100ms"), 100);
  EXPECT_EQ(ms("10s"), 10'000);
  EXPECT_EQ(ms("5m"), 300'000);
  EXPECT_EQ(ms("5min"), 300'000);
  EXPECT_EQ(ms("1h"), 3'600'000);
  EXPECT_EQ(ms("2d"), 172'800'000);
  EXPECT_EQ(ms("1.5s"), 1500);
  EXPECT_EQ(ms("0.5m"), 30'000);
  EXPECT_EQ(ms("1.0009s"), 1000);  // rounded down to the millisecond
  EXPECT_EQ(ms("0.5ms"), 0);
  EXPECT_EQ(ms("1h30m"), 5'400'000);
  EXPECT_EQ(ms("1d2h3m4s5ms"), 93'784'005);
  EXPECT_EQ(ms("1m30s"), 90'000);
  EXPECT_EQ(ms("1min30s"), 90'000);
  EXPECT_EQ(ms("3650d"), 315'360'000'000);
}

TEST(ParseDuration, RejectsMalformed) {
  for (std::string_view bad :
       {"",         "10",  "1.5", "00",     "-1s",  "-0",    "+1s",    "10 seconds",
        "10sec",    "10S", "1H",  "s",      "1h1h", "30m1h", "1m1min", "1min1m",
        "1s1ms2ms", "1.s", ".5s", "1h 30m", "1µs",  "10us",  "1w",     "0x10s"}) {
    EXPECT_EQ(duration_error(bad),
              "expected a duration like 100ms, 10s, 5m or 1h, got '" + std::string(bad) + "'");
  }
}

TEST(ParseDuration, RejectsTooLong) {
  EXPECT_EQ(duration_error("3650d1ms"), "expected a duration of at most 3650d, got '3650d1ms'");
  EXPECT_EQ(duration_error("99999999999999999999999h"),
            "expected a duration of at most 3650d, got '99999999999999999999999h'");
}

TEST(ParseRate, BytesPerHour) {
  auto rate = [](std::string_view text) {
    auto parsed = parse_rate(text);
    EXPECT_TRUE(parsed.ok()) << text << ": " << parsed.error().message;
    return parsed.ok() ? *parsed : 0;
  };
  EXPECT_EQ(rate("10MiB/h"), 10u << 20);
  EXPECT_EQ(rate("1MiB/min"), 60u << 20);
  EXPECT_EQ(rate("1MiB/m"), 60u << 20);
  EXPECT_EQ(rate("100KiB/s"), 100u * 1024 * 3600);
  EXPECT_EQ(rate("24GB/d"), 1'000'000'000u);
  EXPECT_EQ(rate("1B/d"), 0u);  // rounded down
  EXPECT_EQ(rate("0.5MiB/h"), 512u * 1024);
  EXPECT_EQ(rate("0/s"), 0u);
}

TEST(ParseRate, RejectsBadInput) {
  for (std::string_view bad : {"", "10MiB", "10MiB/", "/h", "10MiB/hour", "10MiB/ms", "10MiB/2h",
                               "10 MiB/h", "10MiB /h", "-1MiB/h", "10MiB/h/h", "10MiB/H"}) {
    auto parsed = parse_rate(bad);
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_EQ(parsed.error().message,
              "expected a rate like 10MiB/h, 1MiB/min or 100KiB/s, got '" + std::string(bad) + "'");
  }
  auto huge = parse_rate("16777215TiB/s");
  ASSERT_FALSE(huge.ok());
  EXPECT_EQ(huge.error().message, "expected a rate below 16 EiB/h, got '16777215TiB/s'");
  auto overflow = parse_rate("99999999999TiB/h");
  ASSERT_FALSE(overflow.ok());
  EXPECT_EQ(overflow.error().message, "expected a rate below 16 EiB/h, got '99999999999TiB/h'");
}

TEST(FormatSize, ThreeSignificantDigits) {
  EXPECT_EQ(format_size(0), "0 B");
  EXPECT_EQ(format_size(512), "512 B");
  EXPECT_EQ(format_size(1023), "1023 B");
  EXPECT_EQ(format_size(1024), "1 KiB");
  EXPECT_EQ(format_size(1536), "1.5 KiB");
  EXPECT_EQ(format_size(1100), "1.07 KiB");
  EXPECT_EQ(format_size(230u << 20), "230 MiB");
  EXPECT_EQ(format_size(1342177280), "1.25 GiB");
  EXPECT_EQ(format_size(10189), "9.95 KiB");
  EXPECT_EQ(format_size(10234), "9.99 KiB");
  EXPECT_EQ(format_size(10235), "10 KiB");  // 9.995 rounds up to 10.0
  EXPECT_EQ(format_size(12954), "12.7 KiB");
  EXPECT_EQ(format_size(1023u << 10), "1023 KiB");
  EXPECT_EQ(format_size((1024u << 10) - 1), "1 MiB");  // 1023.999 KiB rounds up
  EXPECT_EQ(format_size(3ull << 40), "3 TiB");
  EXPECT_EQ(format_size(5ull << 50), "5 PiB");
  EXPECT_EQ(format_size(18446744073709551615u), "16 EiB");
}

TEST(FormatSize, ExactReadsBack) {
  EXPECT_EQ(format_size_exact(0), "0B");
  EXPECT_EQ(format_size_exact(500), "500B");
  EXPECT_EQ(format_size_exact(1000), "1kB");
  EXPECT_EQ(format_size_exact(1024), "1KiB");
  EXPECT_EQ(format_size_exact(500u << 20), "500MiB");
  EXPECT_EQ(format_size_exact(1536u << 20), "1.5GiB");
  EXPECT_EQ(format_size_exact(2'000'000'000), "2GB");
  EXPECT_EQ(format_size_exact(1'000'001), "1000001B");
  EXPECT_EQ(format_size_exact((1u << 30) + 1), "1073741825B");
  EXPECT_EQ(format_size_exact(1280), "1280B");          // shorter than 1.25KiB
  EXPECT_EQ(format_size_exact(1342177280), "1280MiB");  // as short as 1.25GiB, and whole
  EXPECT_EQ(format_size_exact(1610612736), "1.5GiB");
  EXPECT_EQ(format_size_exact(18446744073709551615u), "18446744073709551615B");
  for (uint64_t bytes : {uint64_t{1}, uint64_t{999}, uint64_t{1023}, uint64_t{1} << 40,
                         uint64_t{123'456'789}, uint64_t{5} << 50, uint64_t{3'000'000'000'000}}) {
    EXPECT_EQ(size(std::string_view(format_size_exact(bytes))), bytes) << bytes;
  }
}

TEST(FormatDuration, CompactTwoUnits) {
  EXPECT_EQ(format_duration(Millis{0}), "0ms");
  EXPECT_EQ(format_duration(Millis{350}), "350ms");
  EXPECT_EQ(format_duration(Millis{1000}), "1s");
  EXPECT_EQ(format_duration(Millis{1500}), "1.5s");
  EXPECT_EQ(format_duration(Millis{1099}), "1s");
  EXPECT_EQ(format_duration(Millis{9999}), "9.9s");
  EXPECT_EQ(format_duration(Millis{12'345}), "12s");
  EXPECT_EQ(format_duration(Millis{60'000}), "1m");
  EXPECT_EQ(format_duration(Millis{303'000}), "5m3s");
  EXPECT_EQ(format_duration(Millis{7'500'000}), "2h5m");
  EXPECT_EQ(format_duration(Millis{7'200'000}), "2h");
  EXPECT_EQ(format_duration(Millis{(3 * 24 + 4) * 3'600'000 + 59 * 60'000}), "3d4h");
  EXPECT_EQ(format_duration(Millis{-1500}), "-1.5s");
  EXPECT_EQ(format_duration(Millis{INT64_MIN}), "-106751991167d7h");
}

TEST(FormatDuration, ExactRoundTrips) {
  EXPECT_EQ(format_duration_exact(Millis{0}), "0");
  EXPECT_EQ(format_duration_exact(Millis{5'400'000}), "1h30m");
  EXPECT_EQ(format_duration_exact(Millis{120'005}), "2m5ms");
  EXPECT_EQ(format_duration_exact(Millis{-5}), "-5ms");
  for (int64_t value : {0LL, 1LL, 999LL, 1000LL, 1001LL, 59'999LL, 93'784'005LL, 315'360'000'000LL,
                        123'456'789LL}) {
    EXPECT_EQ(ms(format_duration_exact(Millis{value})), value);
  }
}

TEST(Signals, ParseNamesAndNumbers) {
  EXPECT_EQ(parse_signal("SIGINT"), SIGINT);
  EXPECT_EQ(parse_signal("INT"), SIGINT);
  EXPECT_EQ(parse_signal("sigint"), SIGINT);
  EXPECT_EQ(parse_signal("SigTerm"), SIGTERM);
  EXPECT_EQ(parse_signal("2"), 2);
  EXPECT_EQ(parse_signal("64"), 64);
  EXPECT_EQ(parse_signal("SIGSTKFLT"), SIGSTKFLT);
  EXPECT_EQ(parse_signal("PWR"), SIGPWR);
  EXPECT_EQ(parse_signal("SIGIOT"), SIGABRT);
  EXPECT_EQ(parse_signal("POLL"), SIGIO);
  for (std::string_view bad : {"", "0", "65", "02", "100", "-2", "SIG", "SIGFOO", "SIG2",
                               "SIGSIGINT", " INT", "INT ", "SIGRTMIN", "KILL9"}) {
    EXPECT_EQ(parse_signal(bad), std::nullopt) << bad;
  }
}

TEST(Signals, EveryStandardNameRoundTrips) {
  for (std::string_view name :
       {"HUP",  "INT",  "QUIT", "ILL",    "TRAP",   "ABRT",  "BUS",  "FPE",  "KILL", "USR1", "SEGV",
        "USR2", "PIPE", "ALRM", "TERM",   "STKFLT", "CHLD",  "CONT", "STOP", "TSTP", "TTIN", "TTOU",
        "URG",  "XCPU", "XFSZ", "VTALRM", "PROF",   "WINCH", "IO",   "PWR",  "SYS"}) {
    auto signo = parse_signal(name);
    ASSERT_TRUE(signo) << name;
    EXPECT_EQ(signal_name(*signo), "SIG" + std::string(name));
  }
  EXPECT_EQ(signal_name(SIGKILL), "SIGKILL");
  EXPECT_EQ(signal_name(40), "signal 40");
  EXPECT_EQ(signal_name(0), "signal 0");
}

}  // namespace
}  // namespace memvisor
