// Parsing of the raw sample file; the layout is sampler/sampler_abi.h.
#include "heap_report/raw_samples.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "os/unique_fd.h"
#include "sampler/sampler_abi.h"

namespace memvisor {

namespace sampler_abi = memvisor_sampler;

namespace {
std::string unwinder_name(uint32_t unwinder) {
  if (unwinder == sampler_abi::kUnwindFramePointers) return "frame pointers";
  if (unwinder == sampler_abi::kUnwindCachedRules) return "libunwind, cached per return address";
  return "libunwind";
}
}  // namespace

Result<RawSamples> parse_raw_samples(std::string_view bytes) {
  if (bytes.size() < sampler_abi::kRawHeaderSize) return Error{"sample file too short", 0};
  sampler_abi::RawHeader header{};
  std::memcpy(&header, bytes.data(), sizeof header);
  if (std::memcmp(header.magic, "MVSRAW01", 8) != 0 || header.version != sampler_abi::kRawVersion)
    return Error{"not a memvisor sample file", 0};
  RawSamples out;
  out.pid = header.pid;
  out.interval_bytes = header.interval_bytes;
  out.start_ns = header.start_ns;
  out.start_realtime_s = header.start_realtime_s;
  out.complete = header.complete == 1;
  out.end_ns = out.complete ? header.end_ns : UINT64_MAX;
  out.unwinder = unwinder_name(header.unwinder);
  out.libunwind_walks = header.libunwind_walks;
  const uint64_t recorded = header.count < header.capacity ? header.count : header.capacity;
  out.dropped = header.skipped;  // samples the full log had no room for are counted there too
  if (header.capacity > sampler_abi::kDefaultCapacity * 16u) return Error{"sample file corrupt", 0};
  for (uint64_t i = 0; i < recorded; ++i) {
    const uint64_t at = sampler_abi::kRawHeaderSize + i * sizeof(sampler_abi::RawRecord);
    if (at + sizeof(sampler_abi::RawRecord) > bytes.size()) break;
    sampler_abi::RawRecord record{};
    std::memcpy(&record, bytes.data() + at, sizeof record);
    // A record still being written, or written after the window closed, is not a sample.
    if (record.alloc_ns == 0 || record.alloc_ns < out.start_ns || record.alloc_ns > out.end_ns)
      continue;
    RawSample sample;
    sample.size = record.size;
    sample.weight = record.weight;
    sample.alloc_ns = record.alloc_ns;
    sample.freed_ns = record.freed_ns > out.end_ns ? 0 : record.freed_ns;
    sample.thread = record.thread;
    const uint32_t depth =
        record.depth < sampler_abi::kMaxFrames ? record.depth : sampler_abi::kMaxFrames;
    sample.frames.assign(record.frames, record.frames + depth);
    out.samples.push_back(std::move(sample));
  }
  if (out.complete && header.maps_offset <= bytes.size()) {
    const uint64_t stored = header.maps_size;
    const uint64_t size = std::min<uint64_t>(stored, bytes.size() - header.maps_offset);
    out.maps.assign(bytes.substr(header.maps_offset, size));
  }
  return out;
}

Result<RawSamples> read_raw_samples(int fd, const std::string& name) {
  std::string bytes;
  char buffer[1 << 16];
  for (off_t at = 0;;) {
    const ssize_t got = ::pread(fd, buffer, sizeof buffer, at);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return Error::from_errno("read " + name);
    if (got == 0) break;
    bytes.append(buffer, static_cast<size_t>(got));
    at += got;
  }
  auto parsed = parse_raw_samples(bytes);
  if (!parsed) return Error{name + ": " + parsed.error().message, 0};
  return parsed;
}

Result<RawSamples> read_raw_samples(const std::string& path) {
  const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return Error::from_errno("open " + path);
  return read_raw_samples(fd.get(), path);
}

}  // namespace memvisor
