#include "sampler/frame_rules.h"

#include <gtest/gtest.h>

#include <memory>
#include <thread>
#include <vector>

namespace memvisor_sampler {
namespace {

constexpr uintptr_t kWord = sizeof(uintptr_t);

TEST(FrameRules, AFramePointerLayoutIsAFramePointerRule) {
  // rbp at 0x1040 holds the caller's rbp; the return address is above it; CFA = rbp + 16.
  const FrameRule rule = derive_frame_rule(0x1000, 0x1040, 0x1050, 0x1040);
  EXPECT_EQ(rule.kind, FrameKind::kFramePointer);
}

TEST(FrameRules, OtherFramesAreAFixedDistanceAboveTheStackPointer) {
  // rbp unrelated to the frame and not saved by it.
  FrameRule rule = derive_frame_rule(0x1000, 0x9000, 0x1048, 0);
  EXPECT_EQ(rule.kind, FrameKind::kStackPointer);
  EXPECT_EQ(rule.cfa_offset, 0x48);
  EXPECT_EQ(rule.rbp_offset, 0);
  // rbp pushed as a callee-saved register (not a frame pointer): saved 24 bytes below the CFA.
  rule = derive_frame_rule(0x1000, 0x9000, 0x1048, 0x1030);
  EXPECT_EQ(rule.kind, FrameKind::kStackPointer);
  EXPECT_EQ(rule.rbp_offset, -0x18);
  // Saved where a frame pointer would be, but rbp does not point there: still not a frame pointer.
  rule = derive_frame_rule(0x1000, 0x1008, 0x1048, 0x1038);
  EXPECT_EQ(rule.kind, FrameKind::kStackPointer);
  EXPECT_EQ(rule.rbp_offset, -0x10);
}

TEST(FrameRules, ObservationsThatFitNoRuleAreUnknown) {
  EXPECT_EQ(derive_frame_rule(0x1000, 0, 0x1000, 0).kind, FrameKind::kUnknown);  // no move
  EXPECT_EQ(derive_frame_rule(0x1000, 0, 0x0ff0, 0).kind, FrameKind::kUnknown);  // downwards
  EXPECT_EQ(derive_frame_rule(0x1000, 0, 0x1044, 0).kind, FrameKind::kUnknown);  // misaligned
  EXPECT_EQ(derive_frame_rule(0x1000, 0, 0x1000 + (8u << 20), 0).kind,
            FrameKind::kUnknown);                                                     // too far
  EXPECT_EQ(derive_frame_rule(0x1000, 0, 0x1048, 0x2000).kind, FrameKind::kUnknown);  // saved
  EXPECT_EQ(derive_frame_rule(0x1000, 0, 0x1048, 0x0800).kind, FrameKind::kUnknown);  // outside
}

// A fake stack of words; addresses in it are real, so step_frame reads it.
struct FakeStack {
  uintptr_t words[64] = {};
  uintptr_t at(size_t i) const { return reinterpret_cast<uintptr_t>(&words[i]); }
  uintptr_t high() const { return at(64); }
};

TEST(FrameRules, StepsFollowEachShape) {
  FakeStack stack;
  // Frame pointer: rbp = &words[10]; words[10] = caller's rbp; words[11] = return address.
  stack.words[10] = 0xCA11E4;
  stack.words[11] = 0x401234;
  FrameRegs regs{0x400000, stack.at(2), stack.at(10)};
  ASSERT_TRUE(step_frame(FrameRule{FrameKind::kFramePointer, 0, 0}, regs, stack.high()));
  EXPECT_EQ(regs.ip, 0x401234u);
  EXPECT_EQ(regs.sp, stack.at(12));
  EXPECT_EQ(regs.fp, 0xCA11E4u);

  // Stack pointer: CFA = rsp + 48; return address at CFA - 8; rbp saved at CFA - 16.
  stack.words[20 + 5] = 0x405678;
  stack.words[20 + 4] = 0xF00D;
  regs = FrameRegs{0x401234, stack.at(20), 0x1};
  ASSERT_TRUE(step_frame(FrameRule{FrameKind::kStackPointer, 48, -16}, regs, stack.high()));
  EXPECT_EQ(regs.ip, 0x405678u);
  EXPECT_EQ(regs.sp, stack.at(26));
  EXPECT_EQ(regs.fp, 0xF00Du);

  // rbp left alone.
  stack.words[30 + 1] = 0x409999;
  regs = FrameRegs{0x405678, stack.at(30), 0x77};
  ASSERT_TRUE(step_frame(FrameRule{FrameKind::kStackPointer, 16, 0}, regs, stack.high()));
  EXPECT_EQ(regs.ip, 0x409999u);
  EXPECT_EQ(regs.fp, 0x77u);
}

TEST(FrameRules, StepsNeverLeaveTheStackOrGoDown) {
  FakeStack stack;
  const FrameRegs start{0x400000, stack.at(60), stack.at(62)};
  FrameRegs regs = start;
  // CFA past the top of the stack.
  EXPECT_FALSE(step_frame(FrameRule{FrameKind::kStackPointer, 64, 0}, regs, stack.high()));
  // A frame pointer below the stack pointer (garbage in rbp).
  regs = FrameRegs{0x400000, stack.at(40), stack.at(10)};
  EXPECT_FALSE(step_frame(FrameRule{FrameKind::kFramePointer, 0, 0}, regs, stack.high()));
  // A frame pointer whose arithmetic wraps around.
  regs = FrameRegs{0x400000, stack.at(40), UINTPTR_MAX - 4};
  EXPECT_FALSE(step_frame(FrameRule{FrameKind::kFramePointer, 0, 0}, regs, stack.high()));
  EXPECT_FALSE(step_frame(FrameRule{FrameKind::kOutermost, 0, 0}, regs, stack.high()));
  EXPECT_FALSE(step_frame(FrameRule{}, regs, stack.high()));
  EXPECT_EQ(regs.sp, stack.at(40));  // untouched on failure
}

TEST(FrameRuleTable, RulesComeBackAsStoredAndUnknownAddressesAreUnknown) {
  auto table = std::make_unique<FrameRuleTable>();
  EXPECT_EQ(table->lookup(0x401000).kind, FrameKind::kUnknown);
  table->insert(0x401000, FrameRule{FrameKind::kStackPointer, (1 << 23) - 8, -32768});
  table->insert(0x402000, FrameRule{FrameKind::kFramePointer, 0, 0});
  table->insert(0x403000, FrameRule{FrameKind::kOutermost, 0, 0});
  FrameRule rule = table->lookup(0x401000);
  EXPECT_EQ(rule.kind, FrameKind::kStackPointer);
  EXPECT_EQ(rule.cfa_offset, (1 << 23) - 8);
  EXPECT_EQ(rule.rbp_offset, -32768);
  EXPECT_EQ(table->lookup(0x402000).kind, FrameKind::kFramePointer);
  EXPECT_EQ(table->lookup(0x403000).kind, FrameKind::kOutermost);
  EXPECT_EQ(table->lookup(0x404000).kind, FrameKind::kUnknown);
  // A later rule for the same address replaces the first.
  table->insert(0x402000, FrameRule{FrameKind::kStackPointer, 16, 0});
  EXPECT_EQ(table->lookup(0x402000).kind, FrameKind::kStackPointer);
}

TEST(FrameRuleTable, ADlcloseForgetsEveryRule) {
  auto table = std::make_unique<FrameRuleTable>();
  table->insert(0x401000, FrameRule{FrameKind::kFramePointer, 0, 0});
  table->bump_generation();
  EXPECT_EQ(table->lookup(0x401000).kind, FrameKind::kUnknown);
  table->insert(0x401000, FrameRule{FrameKind::kStackPointer, 24, 0});
  EXPECT_EQ(table->lookup(0x401000).kind, FrameKind::kStackPointer);
}

TEST(FrameRuleTable, AFullTableKeepsWhatItHasAndRefusesTheRest) {
  auto table = std::make_unique<FrameRuleTable>();
  const size_t count = FrameRuleTable::kSlots * 2;
  for (size_t i = 1; i <= count; ++i)
    table->insert(0x400000 + i * 16,
                  FrameRule{FrameKind::kStackPointer, static_cast<int32_t>(i * 8 % 4096 + 8), 0});
  size_t known = 0;
  for (size_t i = 1; i <= count; ++i) {
    const FrameRule rule = table->lookup(0x400000 + i * 16);
    if (rule.kind == FrameKind::kUnknown) continue;
    ++known;
    EXPECT_EQ(rule.cfa_offset, static_cast<int32_t>(i * 8 % 4096 + 8));
  }
  EXPECT_GT(known, FrameRuleTable::kSlots * 3 / 4);
  EXPECT_LE(known, FrameRuleTable::kSlots);
}

TEST(FrameRuleTable, ThreadsFillingTheSameAddressesAgree) {
  auto table = std::make_unique<FrameRuleTable>();
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([&table] {
      for (uintptr_t i = 1; i <= 1000; ++i)
        table->insert(0x500000 + i * 32,
                      FrameRule{FrameKind::kStackPointer, static_cast<int32_t>(8 * i), 0});
    });
  for (auto& thread : threads) thread.join();
  for (uintptr_t i = 1; i <= 1000; ++i) {
    const FrameRule rule = table->lookup(0x500000 + i * 32);
    ASSERT_EQ(rule.kind, FrameKind::kStackPointer);
    EXPECT_EQ(rule.cfa_offset, static_cast<int32_t>(8 * i));
  }
}

}  // namespace
}  // namespace memvisor_sampler
