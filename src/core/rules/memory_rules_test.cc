#include "core/rules/memory_rules.h"

#include <gtest/gtest.h>

// GCC 12 at -O1 warns falsely that a rule's optional MemoryMetric may be used uninitialized when
// a rule is assigned to a default ServiceConfig (seen once ServiceConfig gained `monitors`).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace memvisor {
namespace {

constexpr uint64_t MiB = 1024 * 1024;

MemoryValues pss(uint64_t bytes) {
  MemoryValues values;
  values.pss = bytes;
  values.rss = bytes * 2;
  values.uss = bytes / 2;
  return values;
}

TEST(ProcessRules, WarnOnlyOncePerLifetime) {
  ServiceConfig service;
  service.memory.warn = SizeRule{100 * MiB, std::nullopt};
  ProcessRules rules(service, 0);
  EXPECT_TRUE(rules.on_sample(0, pss(50 * MiB)).empty());
  auto decisions = rules.on_sample(1, pss(150 * MiB));
  ASSERT_EQ(decisions.size(), 1u);
  EXPECT_EQ(decisions[0].rule, "warn");
  EXPECT_EQ(decisions[0].action, "warn");
  EXPECT_EQ(decisions[0].metric, "pss");
  EXPECT_EQ(decisions[0].value, 150.0 * MiB);
  EXPECT_EQ(decisions[0].threshold, 100.0 * MiB);
  EXPECT_TRUE(rules.on_sample(2, pss(200 * MiB)).empty());
  EXPECT_FALSE(rules.acted());
}

TEST(ProcessRules, LimitNeedsConsecutiveSamplesAndHonoursTheRuleMetric) {
  ServiceConfig service;
  service.memory.limit = LimitRule{100 * MiB, 3, MemoryMetric::rss};
  ProcessRules rules(service, 0);
  // rss is twice pss here: 60 MiB pss = 120 MiB rss is above.
  EXPECT_TRUE(rules.on_sample(0, pss(60 * MiB)).empty());
  EXPECT_TRUE(rules.on_sample(1, pss(60 * MiB)).empty());
  EXPECT_TRUE(rules.on_sample(2, pss(40 * MiB)).empty());  // dips: the count starts over
  EXPECT_TRUE(rules.on_sample(3, pss(60 * MiB)).empty());
  EXPECT_TRUE(rules.on_sample(4, pss(60 * MiB)).empty());
  auto decisions = rules.on_sample(5, pss(60 * MiB));
  ASSERT_EQ(decisions.size(), 1u);
  EXPECT_EQ(decisions[0].rule, "limit");
  EXPECT_EQ(decisions[0].action, "recycle");
  EXPECT_EQ(decisions[0].metric, "rss");
  EXPECT_TRUE(rules.acted());
  EXPECT_TRUE(rules.on_sample(6, pss(60 * MiB)).empty());  // asked once per lifetime
}

// A recycle that failed is asked for again, after a pause that grows as a crash's restart
// delay does; critical is never held back.
TEST(ProcessRules, AFailedRecycleIsAskedForAgainAfterAGrowingPause) {
  ServiceConfig service;
  service.memory.limit = LimitRule{100 * MiB, 1, std::nullopt};
  service.memory.critical = SizeRule{500 * MiB, std::nullopt};
  service.restart_delay = Millis(1000);
  service.restart_backoff = 2;
  service.restart_delay_max = Millis(3000);
  ProcessRules rules(service, 0);
  ASSERT_EQ(rules.on_sample(0, pss(200 * MiB)).size(), 1u);
  auto asked_at = [&](double from) {
    for (double t = from; t < from + 100; t += 0.25) {
      if (!rules.on_sample(t, pss(200 * MiB)).empty()) return t;
    }
    return -1.0;
  };
  rules.allow_again(10);  // failed once: 1 s
  EXPECT_EQ(asked_at(10), 11);
  rules.allow_again(20);  // twice: 2 s
  EXPECT_EQ(asked_at(20), 22);
  rules.allow_again(30);  // three times: 4 s, capped at 3
  EXPECT_EQ(asked_at(30), 33);
  rules.allow_again(40);
  auto decisions = rules.on_sample(40.5, pss(600 * MiB));
  ASSERT_EQ(decisions.size(), 1u);
  EXPECT_EQ(decisions[0].rule, "critical");
}

TEST(ProcessRules, CriticalWinsOverEverythingElse) {
  ServiceConfig service;
  service.memory.warn = SizeRule{10 * MiB, std::nullopt};
  service.memory.limit = LimitRule{20 * MiB, 1, std::nullopt};
  service.memory.critical = SizeRule{30 * MiB, std::nullopt};
  ProcessRules rules(service, 0);
  auto decisions = rules.on_sample(0, pss(40 * MiB));
  ASSERT_EQ(decisions.size(), 1u);
  EXPECT_EQ(decisions[0].rule, "critical");
  EXPECT_EQ(decisions[0].action, "critical");
}

TEST(ProcessRules, AgeAndRequestsApplyTheirJitterShare) {
  ServiceConfig service;
  service.memory.age = AgeRule{Millis(3600 * 1000), Millis(600 * 1000)};
  service.memory.requests = RequestsRule{1000, 100};
  ProcessRules early(service, 0.0), late(service, 0.5);
  EXPECT_EQ(early.on_progress(3600, 0).size(), 1u);
  EXPECT_TRUE(late.on_progress(3600, 0).empty());
  EXPECT_TRUE(late.on_progress(3899, 0).empty());
  auto decisions = late.on_progress(3900, 0);
  ASSERT_EQ(decisions.size(), 1u);
  EXPECT_EQ(decisions[0].rule, "age");

  ProcessRules counted(service, 0.5);
  EXPECT_TRUE(counted.on_progress(1, 1049).empty());
  decisions = counted.on_progress(1, 1050);
  ASSERT_EQ(decisions.size(), 1u);
  EXPECT_EQ(decisions[0].rule, "requests");
  EXPECT_EQ(decisions[0].threshold, 1050);

  // A pre-fork master: requests count, its age never does (its children are aged).
  ProcessRules master(service, 0.0);
  EXPECT_TRUE(master.on_progress(7200, 0, false).empty());
  decisions = master.on_progress(7200, 1000, false);
  ASSERT_EQ(decisions.size(), 1u);
  EXPECT_EQ(decisions[0].rule, "requests");
  // After a failed recycle it is asked for again once the pause is over, on its real uptime.
  master.allow_again(7200);
  EXPECT_TRUE(master.on_progress(7200.5, 1000, false).empty());
  EXPECT_EQ(master.on_progress(7201, 1000, false).size(), 1u);
}

TEST(ProcessRules, LeakRecyclesASteadyLeakAndNotAFlatProcess) {
  ServiceConfig service;
  service.memory.leak = LeakRule{10 * MiB, LeakAction::recycle, Millis(0), std::nullopt};
  ProcessRules leaking(service, 0), flat(service, 0);
  std::optional<double> reported;
  for (int t = 0; t < 6 * 3600 && !reported; t += 10) {
    // 60 MiB/h, six times the rate, on top of a 200 MiB floor with a small sawtooth.
    const double base = 200.0 * MiB + (t % 300) * 0.02 * MiB;
    for (const auto& d :
         leaking.on_sample(t, pss(static_cast<uint64_t>(base + t * 60.0 * MiB / 3600)))) {
      EXPECT_EQ(d.rule, "leak");
      EXPECT_EQ(d.action, "recycle");
      ASSERT_TRUE(d.slope_bytes_per_hour.has_value());
      EXPECT_NEAR(*d.slope_bytes_per_hour, 60.0 * MiB, 15.0 * MiB);
      reported = t;
    }
    EXPECT_TRUE(flat.on_sample(t, pss(static_cast<uint64_t>(base))).empty());
  }
  ASSERT_TRUE(reported.has_value());
  EXPECT_LT(*reported, 3 * 3600);
}

// A leak recycle that waits for a heap sample: the leak is decided once, limit and critical can
// still act during the window, and once the recycle is requested nothing else is.
TEST(ProcessRules, LeakWaitingForItsSampleLeavesLimitAndCriticalFree) {
  ServiceConfig service;
  service.memory.leak = LeakRule{10 * MiB, LeakAction::recycle, Millis(2000), std::nullopt};
  service.memory.limit = LimitRule{2000 * MiB, 1, std::nullopt};
  service.memory.critical = SizeRule{3000 * MiB, std::nullopt};
  auto leak_at = [](int t) {
    return pss(static_cast<uint64_t>(200.0 * MiB + t * 60.0 * MiB / 3600));
  };
  auto run_until_leak = [&](ProcessRules& rules) {
    for (int t = 0; t < 6 * 3600; t += 10) {
      for (const auto& d : rules.on_sample(t, leak_at(t))) {
        if (d.rule == "leak") return t;
      }
    }
    return -1;
  };
  ProcessRules critical(service, 0);
  const int fired = run_until_leak(critical);
  ASSERT_GT(fired, 0);
  EXPECT_FALSE(critical.acted());
  EXPECT_TRUE(critical.on_sample(fired + 10, leak_at(fired + 10)).empty()) << "the leak fires once";
  auto decisions = critical.on_sample(fired + 20, pss(3500 * MiB));
  ASSERT_EQ(decisions.size(), 1u);
  EXPECT_EQ(decisions[0].rule, "critical");

  ProcessRules limit(service, 0);
  ASSERT_EQ(run_until_leak(limit), fired);
  decisions = limit.on_sample(fired + 10, pss(2500 * MiB));
  ASSERT_EQ(decisions.size(), 1u);
  EXPECT_EQ(decisions[0].rule, "limit");

  ProcessRules requested(service, 0);
  ASSERT_EQ(run_until_leak(requested), fired);
  requested.recycle_requested();
  EXPECT_TRUE(requested.acted());
  EXPECT_TRUE(requested.on_sample(fired + 10, pss(2500 * MiB)).empty());
  requested.allow_again(fired + 10);  // the recycle failed: the leak may be decided again
  bool again = false;
  for (int t = fired + 20; t < fired + 3600 && !again; t += 10) {
    for (const auto& d : requested.on_sample(t, leak_at(t))) again = again || d.rule == "leak";
  }
  EXPECT_TRUE(again);
}

TEST(TotalRule, PicksTheLargestPrivateMemoryWhenTheSumIsAbove) {
  const SizeRule rule{300 * MiB, std::nullopt};
  std::vector<MemoryValues> members = {pss(100 * MiB), pss(150 * MiB), pss(120 * MiB)};
  uint64_t sum = 0;
  EXPECT_EQ(choose_total_victim(rule, MemoryMetric::pss, members, &sum), 1u);
  EXPECT_EQ(sum, 370 * MiB);
  members[1] = pss(50 * MiB);
  EXPECT_FALSE(choose_total_victim(rule, MemoryMetric::pss, members, &sum).has_value());
}

}  // namespace
}  // namespace memvisor

namespace memvisor {
namespace {

// The first time a leak rule's decision asks for a recycle, between `from_s` and `to_s` (10 s
// samples of a floor growing `mib_per_hour` on top of 200 MiB); -1 when none did.
double first_leak_recycle(ProcessRules& rules, double from_s, double to_s, double mib_per_hour) {
  for (double t = from_s; t < to_s; t += 10) {
    const auto bytes = static_cast<uint64_t>((200 + mib_per_hour * t / 3600) * 1024 * 1024);
    for (const RuleDecision& decision : rules.on_sample(t, pss(bytes))) {
      if (decision.rule == "leak") return t;
    }
  }
  return -1;
}

TEST(ProcessRules, AReloadedLeakRateJudgesTheHistoryAlreadyKept) {
  // Two hours of a floor growing 100 MiB/h under a 1 GiB/h rule: no leak at that rate.
  ServiceConfig lenient;
  lenient.memory.leak =
      LeakRule{uint64_t{1} << 30, LeakAction::recycle, Millis{0}, std::nullopt, Millis{600'000}};
  ProcessRules rules(lenient, 0);
  ASSERT_EQ(first_leak_recycle(rules, 0, 7200, 100), -1);

  // A reload lowers the rate to 10 MiB/h: the two hours already seen are the evidence, so the
  // verdict comes within a few buckets.
  ServiceConfig strict = lenient;
  strict.memory.leak->rate_bytes_per_hour = 10 * MiB;
  rules.reconfigure(strict);
  const double found = first_leak_recycle(rules, 7200, 9000, 100);
  ASSERT_GE(found, 7200);
  EXPECT_LE(found, 7200 + 120);

  // The control: rules that start at the reload with the strict rate have no history, and
  // cannot judge in that time.
  ProcessRules fresh(strict, 0);
  EXPECT_EQ(first_leak_recycle(fresh, 7200, 7200 + 120, 100), -1);

  // A rule turned off by a reload goes; turned on again, it starts over.
  ServiceConfig none = lenient;
  none.memory.leak.reset();
  rules.reconfigure(none);
  EXPECT_EQ(rules.leak_assessment(), nullptr);
}

}  // namespace
}  // namespace memvisor

#pragma GCC diagnostic pop
