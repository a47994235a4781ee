#include "sampler/frame_rules.h"

#include <string.h>

namespace memvisor_sampler {
namespace {

constexpr size_t kProbes = 16;
constexpr int32_t kMaxCfaOffset = (1 << 23) - 1;  // what the packed field holds
constexpr uint32_t kGenerationBits = 20;

uintptr_t load_word(uintptr_t address) {
  uintptr_t value = 0;
  memcpy(&value, reinterpret_cast<const void*>(address), sizeof value);
  return value;
}

size_t home_slot(uintptr_t ip) {
  return static_cast<size_t>((ip * 0x9E3779B97F4A7C15ull) >> 52) % FrameRuleTable::kSlots;
}

// kind: 4 bits, generation: 20, cfa_offset: 24 (signed), rbp_offset: 16 (signed).
FrameRule unpack(uint64_t packed) {
  FrameRule rule;
  rule.kind = static_cast<FrameKind>(packed & 0xF);
  rule.cfa_offset = static_cast<int32_t>(static_cast<uint32_t>(packed >> 24) << 8) >> 8;
  rule.rbp_offset = static_cast<int16_t>(static_cast<uint16_t>(packed >> 48));
  return rule;
}

uint32_t generation_of(uint64_t packed) {
  return static_cast<uint32_t>(packed >> 4) & ((1u << kGenerationBits) - 1);
}

}  // namespace

FrameRule derive_frame_rule(uintptr_t sp, uintptr_t fp, uintptr_t cfa, uintptr_t fp_saved_at) {
  FrameRule rule;
  if (cfa <= sp || cfa % sizeof(uintptr_t) != 0) return rule;
  // A frame-pointer frame: rbp points at the saved caller's rbp, right below the return address.
  // A frame without one can show this layout only if it made rbp exactly that address, which is
  // what setting up a frame pointer is.
  if (fp + 2 * sizeof(uintptr_t) == cfa && fp_saved_at == fp) {
    rule.kind = FrameKind::kFramePointer;
    return rule;
  }
  const uintptr_t cfa_offset = cfa - sp;
  if (cfa_offset > static_cast<uintptr_t>(kMaxCfaOffset)) return rule;
  int32_t rbp_offset = 0;
  if (fp_saved_at != 0) {
    // Saved inside this frame, below the CFA.
    if (fp_saved_at < sp || fp_saved_at >= cfa || cfa - fp_saved_at > 32768) return rule;
    rbp_offset = -static_cast<int32_t>(cfa - fp_saved_at);
  }
  rule.kind = FrameKind::kStackPointer;
  rule.cfa_offset = static_cast<int32_t>(cfa_offset);
  rule.rbp_offset = rbp_offset;
  return rule;
}

bool step_frame(const FrameRule& rule, FrameRegs& regs, uintptr_t stack_high) {
  constexpr uintptr_t kWord = sizeof(uintptr_t);
  uintptr_t cfa = 0;
  if (rule.kind == FrameKind::kFramePointer) {
    cfa = regs.fp + 2 * kWord;
  } else if (rule.kind == FrameKind::kStackPointer) {
    cfa = regs.sp + static_cast<uintptr_t>(rule.cfa_offset);
  } else {
    return false;
  }
  // The caller's frame is above this one, and its return address is inside the stack.
  if (cfa % kWord != 0 || cfa <= regs.sp || cfa - regs.sp < kWord || cfa > stack_high) return false;
  uintptr_t fp = regs.fp;
  if (rule.kind == FrameKind::kFramePointer) {
    if (cfa - regs.sp < 2 * kWord) return false;
    fp = load_word(cfa - 2 * kWord);
  } else if (rule.rbp_offset != 0) {
    const uintptr_t saved = cfa - static_cast<uintptr_t>(-static_cast<int64_t>(rule.rbp_offset));
    if (saved < regs.sp || saved > cfa - kWord) return false;
    fp = load_word(saved);
  }
  regs = FrameRegs{load_word(cfa - kWord), cfa, fp};
  return true;
}

uint64_t FrameRuleTable::pack(const FrameRule& rule) const {
  const uint32_t generation = __atomic_load_n(&generation_, __ATOMIC_RELAXED);
  return (static_cast<uint64_t>(rule.kind) & 0xF) |
         (static_cast<uint64_t>(generation & ((1u << kGenerationBits) - 1)) << 4) |
         (static_cast<uint64_t>(static_cast<uint32_t>(rule.cfa_offset) & 0xFFFFFF) << 24) |
         (static_cast<uint64_t>(static_cast<uint16_t>(rule.rbp_offset)) << 48);
}

FrameRule FrameRuleTable::lookup(uintptr_t ip) const {
  const uint32_t generation =
      __atomic_load_n(&generation_, __ATOMIC_RELAXED) & ((1u << kGenerationBits) - 1);
  const size_t home = home_slot(ip);
  for (size_t probe = 0; probe < kProbes; ++probe) {
    const Slot& slot = slots_[(home + probe) % kSlots];
    const uint64_t key = __atomic_load_n(&slot.ip, __ATOMIC_ACQUIRE);
    if (key == 0) break;
    if (key != ip) continue;
    const uint64_t packed = __atomic_load_n(&slot.rule, __ATOMIC_ACQUIRE);
    if (packed == 0 || generation_of(packed) != generation) break;
    return unpack(packed);
  }
  return FrameRule{};
}

void FrameRuleTable::insert(uintptr_t ip, const FrameRule& rule) {
  if (ip == 0 || rule.kind == FrameKind::kUnknown) return;
  const size_t home = home_slot(ip);
  for (size_t probe = 0; probe < kProbes; ++probe) {
    Slot& slot = slots_[(home + probe) % kSlots];
    uint64_t key = __atomic_load_n(&slot.ip, __ATOMIC_ACQUIRE);
    // A free slot is claimed; if another thread claimed it first, `key` is what it wrote.
    if (key == 0 &&
        __atomic_compare_exchange_n(&slot.ip, &key, ip, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
      key = ip;
    if (key != ip) continue;
    __atomic_store_n(&slot.rule, pack(rule), __ATOMIC_RELEASE);
    return;
  }
}

void FrameRuleTable::bump_generation() {
  __atomic_add_fetch(&generation_, 1, __ATOMIC_RELEASE);
}

}  // namespace memvisor_sampler
