// ChildCapture with real children on a real event loop, and the heap sample's interval choice.
#include "supervisor/child_capture.h"

#include <gtest/gtest.h>

#include "supervisor/heap_sample_capture.h"

namespace memvisor {
namespace {

using namespace std::chrono_literals;

// Runs the loop until `capture` has delivered its outcome (or 20 s pass).
ChildOutcome run(ChildCommand command, std::chrono::milliseconds timeout) {
  auto loop = EventLoop::create();
  EXPECT_TRUE(static_cast<bool>(loop));
  std::optional<ChildOutcome> outcome;
  ChildCapture capture(*loop, std::move(command), timeout,
                       [&](ChildOutcome o) { outcome = std::move(o); });
  EXPECT_FALSE(capture.finished());  // never delivered from the constructor
  const auto give_up = std::chrono::steady_clock::now() + 20s;
  while (!outcome && std::chrono::steady_clock::now() < give_up) (void)loop->run_once(100ms);
  EXPECT_TRUE(capture.finished());
  return outcome.value_or(ChildOutcome{});
}

TEST(ChildCapture, CollectsOutputAndExitCode) {
  const ChildOutcome outcome = run({{"/bin/sh", "-c", "echo out; echo err >&2; exit 3"}, {}}, 10s);
  EXPECT_EQ(outcome.output, "out\nerr\n");
  EXPECT_FALSE(outcome.succeeded);
  EXPECT_FALSE(outcome.timed_out);
  EXPECT_NE(outcome.note.find("exited with code 3"), std::string::npos) << outcome.note;
  EXPECT_EQ(run({{"/bin/true"}, {}}, 10s).succeeded, true);
}

TEST(ChildCapture, KillsAChildPastItsDeadline) {
  const ChildOutcome outcome = run({{"/bin/sh", "-c", "echo started; exec sleep 60"}, {}}, 300ms);
  EXPECT_TRUE(outcome.timed_out);
  EXPECT_FALSE(outcome.succeeded);
  EXPECT_EQ(outcome.output, "started\n");
  EXPECT_NE(outcome.note.find("did not finish within 300 ms"), std::string::npos) << outcome.note;
  EXPECT_LT(outcome.seconds, 10.0);
}

TEST(ChildCapture, SaysWhyNothingRan) {
  ChildOutcome outcome = run({{}, "no tool here"}, 10s);
  EXPECT_TRUE(outcome.command.empty());
  EXPECT_EQ(outcome.note, "no tool here");
  outcome = run({{"/nonexistent/tool"}, {}}, 10s);
  EXPECT_FALSE(outcome.succeeded);
  EXPECT_NE(outcome.note.find("/nonexistent/tool"), std::string::npos) << outcome.note;
}

TEST(HeapSampleInterval, AimsAtSixtyFourSamplesOfTheLeakWithinBounds) {
  constexpr double MiB = 1 << 20;
  EXPECT_EQ(heap_sample_interval(0, Millis(30000)), 32u << 10);
  EXPECT_EQ(heap_sample_interval(10 * MiB, Millis(30000)), 32u << 10);  // a slow leak: the floor
  // 1 GiB/h for 30 s leaks ~8.5 MiB: one sample per ~136 KiB gives 64 of them.
  EXPECT_EQ(heap_sample_interval(1024 * MiB, Millis(30000)), 139810u);
  EXPECT_EQ(heap_sample_interval(100000 * MiB, Millis(30000)), 512u << 10);  // the default
  EXPECT_EQ(heap_sample_interval(-5, Millis(30000)), 32u << 10);
}

}  // namespace
}  // namespace memvisor
