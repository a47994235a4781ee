// The oom_kill counters' parsing and oom_score_adj on this process.
#include "os/oom.h"

#include <gtest/gtest.h>
#include <unistd.h>

namespace memvisor {
namespace {

TEST(Oom, KeyedCounterFindsTheWholeKeyOnly) {
  const std::string v1 = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n";
  EXPECT_EQ(keyed_counter(v1, "oom_kill"), 3u);
  EXPECT_EQ(keyed_counter(v1, "oom_kill_disable"), 0u);
  const std::string v2 = "low 0\nhigh 4\nmax 7\noom 2\noom_kill 1\noom_group_kill 0\n";
  EXPECT_EQ(keyed_counter(v2, "oom"), 2u);
  EXPECT_EQ(keyed_counter(v2, "oom_kill"), 1u);
  EXPECT_EQ(keyed_counter("oom_kill_disable 0\n", "oom_kill"), std::nullopt);
  EXPECT_EQ(keyed_counter("oom_kill x\n", "oom_kill"), std::nullopt);
}

TEST(Oom, MachineCounterAndOwnScore) {
  EXPECT_TRUE(machine_oom_kills().has_value());  // Linux >= 4.13
  const auto before = oom_score_adj_of(::getpid());
  ASSERT_TRUE(before.has_value());
  // Raising it needs no privilege; put it back where it was if we may.
  ASSERT_TRUE(set_own_oom_score_adj(*before + 1 > 1000 ? 1000 : *before + 1));
  EXPECT_EQ(oom_score_adj_of(::getpid()), *before + 1 > 1000 ? 1000 : *before + 1);
  (void)set_own_oom_score_adj(*before);
}

}  // namespace
}  // namespace memvisor
