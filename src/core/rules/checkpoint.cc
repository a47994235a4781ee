// Encoding and decoding of the supervisor's checkpoint file (see checkpoint.h).
#include "core/rules/checkpoint.h"

#include <fmt/format.h>

#include "core/leak/state_codec.h"

namespace memvisor {
namespace {

constexpr std::string_view kMagic = "MVCKPT\r\n";  // \r\n: a text-mode copy shows as corrupt
// A checkpoint bounds itself (the supervisor trims series to a budget); these only keep a garbled
// count from asking for absurd allocations before the checksum would have said it is garbage.
constexpr uint64_t kMaxEntries = 1u << 20;
constexpr uint64_t kMaxSamplesPerEntry = 1u << 24;

}  // namespace

std::string encode_checkpoint(const std::vector<CheckpointEntry>& entries) {
  StateWriter body;
  body.u64(entries.size());
  for (const CheckpointEntry& e : entries) {
    body.bytes(e.service);
    body.i64(e.instance);
    body.i64(e.generation);
    body.i64(e.child);
    body.i64(e.pid);
    body.u64(e.start_ticks);
    body.f64(e.started_at_s);
    body.bytes(e.rules_state);
    body.u64(e.samples.size());
    for (const TimedSample& s : e.samples) {
      body.f64(s.t_s);
      body.u64(s.values.rss);
      body.u64(s.values.pss);
      body.u64(s.values.uss);
      body.u64(s.values.swap);
      body.u64(s.values.anon);
      body.u64(s.values.cgroup);
    }
  }
  StateWriter out;
  for (char c : kMagic) out.u8(static_cast<uint8_t>(c));
  out.u32(kCheckpointVersion);
  out.u64(body.data().size());
  out.u64(fnv1a64(body.data()));
  std::string file = std::move(out).data();
  file += body.data();
  return file;
}

Result<std::vector<CheckpointEntry>> decode_checkpoint(std::string_view data) {
  if (data.size() < kMagic.size() || data.substr(0, kMagic.size()) != kMagic) {
    return Error{"not a memvisor checkpoint"};
  }
  StateReader header(data.substr(kMagic.size()));
  const uint32_t version = header.u32();
  const uint64_t size = header.u64();
  const uint64_t checksum = header.u64();
  if (!header.ok()) return Error{"truncated checkpoint header"};
  if (version != kCheckpointVersion) {
    return Error{fmt::format("checkpoint version {}, this memvisor reads version {}", version,
                             kCheckpointVersion)};
  }
  if (header.remaining() != size) {
    return Error{fmt::format("checkpoint of {} bytes, its header says {}: truncated or extended",
                             header.remaining(), size)};
  }
  const std::string_view body = data.substr(data.size() - size);
  if (fnv1a64(body) != checksum) return Error{"checkpoint checksum mismatch"};

  StateReader in(body);
  std::vector<CheckpointEntry> entries;
  const uint64_t count = in.u64();
  if (count > kMaxEntries) return Error{"checkpoint: too many entries"};
  for (uint64_t i = 0; i < count && in.ok(); ++i) {
    CheckpointEntry e;
    e.service = std::string(in.bytes());
    e.instance = static_cast<int>(in.i64());
    e.generation = static_cast<int>(in.i64());
    e.child = static_cast<int>(in.i64());
    e.pid = static_cast<int>(in.i64());
    e.start_ticks = in.u64();
    e.started_at_s = in.f64();
    e.rules_state = std::string(in.bytes());
    const uint64_t samples = in.u64();
    if (samples > kMaxSamplesPerEntry || samples * kCheckpointSampleBytes > in.remaining()) {
      return Error{"checkpoint: a series longer than the file"};
    }
    e.samples.resize(samples);
    for (TimedSample& s : e.samples) {
      s.t_s = in.f64();
      s.values.rss = in.u64();
      s.values.pss = in.u64();
      s.values.uss = in.u64();
      s.values.swap = in.u64();
      s.values.anon = in.u64();
      s.values.cgroup = in.u64();
    }
    entries.push_back(std::move(e));
  }
  if (!in.ok()) return Error{"checkpoint: truncated entry"};
  if (in.remaining() != 0) return Error{"checkpoint: trailing bytes"};
  return entries;
}

}  // namespace memvisor
