// The supervisor's checkpoint file: per measured process, its identity (service, instance,
// generation, pre-fork child, pid and start time), its rules' state (ProcessRules::save_state)
// and its retained series, so a restarted supervisor goes on judging where the dead one stopped.
// A versioned binary layout with a checksum: anything else (another version, a torn write,
// garbage) decodes to an error, never to a wrong state.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/rules/timed_sample.h"

namespace memvisor {

struct CheckpointEntry {
  std::string service;
  int instance = 0;
  int generation = 0;
  int child = 0;  // a pre-fork child's pid; 0 for the instance's own process
  int pid = 0;
  // The process's start time in clock ticks since boot (/proc/PID/stat field 22): with the pid,
  // it names one process for the life of the machine, so a reused pid never inherits a history.
  uint64_t start_ticks = 0;
  double started_at_s = 0;  // unix seconds: the origin of the samples' and the rules' times
  std::string rules_state;  // ProcessRules::save_state()
  std::vector<TimedSample> samples;

  bool same_process(const CheckpointEntry& other) const {
    return pid == other.pid && start_ticks == other.start_ticks;
  }
};

// Bumped with any change to the layout below or to a state it embeds.
inline constexpr uint32_t kCheckpointVersion = 1;

std::string encode_checkpoint(const std::vector<CheckpointEntry>& entries);
// An error naming what is wrong (not a checkpoint, version N, truncated, checksum mismatch).
Result<std::vector<CheckpointEntry>> decode_checkpoint(std::string_view data);

// Bytes one retained sample takes in the file: the series are what a byte budget trims.
inline constexpr size_t kCheckpointSampleBytes = 7 * 8;

}  // namespace memvisor
