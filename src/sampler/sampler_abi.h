// The files the heap sampler shares with memvisor: the per-process control page (memvisor asks
// for a window) and the raw sample file (the process records into it). Plain layout, no code, so
// the preload library and the report builder agree without linking to each other.
#pragma once

#include <stdint.h>

namespace memvisor_sampler {

// Environment variables read by the library at load.
inline constexpr const char* kEnvControlDir = "MEMVISOR_SAMPLER_DIR";     // PID.ctl files live here
inline constexpr const char* kEnvOut = "MEMVISOR_SAMPLER_OUT";            // armed for the whole run
inline constexpr const char* kEnvInterval = "MEMVISOR_SAMPLER_INTERVAL";  // bytes, default 512 KiB
inline constexpr const char* kEnvUnwind = "MEMVISOR_SAMPLER_UNWIND";      // cached | libunwind | fp

inline constexpr uint64_t kDefaultIntervalBytes = 512 * 1024;
inline constexpr uint32_t kMaxFrames = 32;
inline constexpr uint32_t kControlPageSize = 4096;
inline constexpr uint32_t kRawHeaderSize = 4096;
inline constexpr uint32_t kDefaultCapacity = 1u << 18;  // records per window
inline constexpr uint32_t kRawVersion = 2;
// A thread claims records this many at a time: threads on different cores then share neither
// the header's counter nor a record's cache lines (a line moving between cores cost about 220 ns
// on the machine we measure on, several times a sample's own work).
inline constexpr uint32_t kRecordBatch = 16;

// States of the control page, written by the process.
enum ControlState : uint32_t {
  kIdle = 0,       // nothing asked or last window done
  kRecording = 1,  // a window is open
  kFailed = 2,     // the last request could not be honoured; see `error`
};

// kUnwindCachedRules: libunwind's DWARF unwinding, its steps cached per return address.
enum Unwinder : uint32_t { kUnwindLibunwind = 1, kUnwindFramePointers = 2, kUnwindCachedRules = 3 };

// PID.ctl in the control directory, mapped shared by the process. memvisor fills the request
// fields, then increments `request_seq`, then sets `gate` to 1. The process notices `gate` on
// its next allocation, opens the window, and writes `handled_seq` when the window is over.
struct ControlPage {
  char magic[8];  // "MVSCTL01"
  uint32_t pid;
  volatile uint32_t gate;  // nonzero: allocations take the slow path (read by every malloc)
  volatile uint32_t request_seq;
  volatile uint32_t handled_seq;
  volatile uint32_t state;  // ControlState
  uint32_t replace_out;     // 1: truncate an existing out_path (whole-run mode with %p)
  uint64_t interval_bytes;
  uint64_t duration_ns;  // 0: until exit
  char out_path[2048];
  char error[256];
};
static_assert(sizeof(ControlPage) <= kControlPageSize);

// Raw sample file: a header page, `capacity` fixed-size records, then the /proc/self/maps text
// at `maps_offset` once `complete` is 1. Times are CLOCK_MONOTONIC nanoseconds. A record whose
// alloc_ns is 0 is not a sample (claimed but unused, or still being written).
struct RawHeader {
  char magic[8];  // "MVSRAW01"
  uint32_t version;
  uint32_t pid;
  uint64_t interval_bytes;
  uint64_t start_ns;
  volatile uint64_t end_ns;
  volatile uint64_t count;    // records claimed, a batch at a time: unused ones stay zero
  volatile uint64_t skipped;  // allocations chosen but not sampled (too big, over-aligned, full)
  uint32_t capacity;
  uint32_t unwinder;  // Unwinder
  uint64_t maps_offset;
  volatile uint64_t maps_size;
  volatile uint32_t complete;
  uint32_t libunwind_walks;  // samples whose whole stack libunwind walked (cached rules: the first
                             // through each return address); 0 until `complete`
  int64_t start_realtime_s;
};
static_assert(sizeof(RawHeader) <= kRawHeaderSize);

struct alignas(64) RawRecord {
  uint64_t size;               // requested bytes
  double weight;               // estimated bytes this sample stands for: size / P(sampled)
  uint64_t alloc_ns;           // CLOCK_MONOTONIC
  volatile uint64_t freed_ns;  // 0 while live
  uint32_t depth;
  uint32_t thread;              // kernel thread id
  uint64_t frames[kMaxFrames];  // return addresses, innermost first, sampler frames removed
};
static_assert(sizeof(RawRecord) % 64 == 0);

inline constexpr uint64_t raw_maps_offset(uint32_t capacity) {
  return kRawHeaderSize + uint64_t{capacity} * sizeof(RawRecord);
}

}  // namespace memvisor_sampler
