// Reading the perf-data layout: a 32-byte prologue (magic CA FE C0 C0, byte order, entry offset
// and count), then entries of a 20-byte header (length, name offset, vector length, type, data
// offset), name and data (HotSpot's perfMemory.hpp).
#include "runtimes/jvm/hsperfdata.h"

#include <cstring>

namespace memvisor {
namespace {

class PerfDataCursor {
 public:
  PerfDataCursor(std::string_view bytes, bool little_endian)
      : bytes_(bytes), little_(little_endian) {}
  // A `width`-byte integer at `offset`; nothing past the end.
  std::optional<int64_t> integer(size_t offset, size_t width) const {
    if (offset > bytes_.size() || width > bytes_.size() - offset) return std::nullopt;
    uint64_t value = 0;
    for (size_t i = 0; i < width; ++i) {
      const auto byte = static_cast<uint8_t>(bytes_[offset + (little_ ? width - 1 - i : i)]);
      value = value << 8 | byte;
    }
    if (width == 4) return static_cast<int32_t>(static_cast<uint32_t>(value));
    return static_cast<int64_t>(value);
  }
  // The NUL-terminated text at `offset`, at most `limit` bytes.
  std::optional<std::string> text(size_t offset, size_t limit) const {
    if (offset >= bytes_.size()) return std::nullopt;
    std::string_view rest = bytes_.substr(offset, limit);
    return std::string(rest.substr(0, rest.find('\0')));
  }

 private:
  std::string_view bytes_;
  bool little_;
};

}  // namespace

std::optional<bool> PerfData::attach_supported() const {
  auto found = texts.find("sun.rt.jvmCapabilities");
  if (found == texts.end() || found->second.empty()) return std::nullopt;
  return found->second[0] == '1';
}

std::optional<uint64_t> PerfData::heap_used() const {
  std::optional<uint64_t> sum;
  for (const auto& [name, value] : numbers) {
    if (name.rfind("sun.gc.generation.", 0) != 0 || name.find(".space.") == std::string::npos ||
        name.size() < 5 || name.compare(name.size() - 5, 5, ".used") != 0 || value < 0)
      continue;
    sum = sum.value_or(0) + static_cast<uint64_t>(value);
  }
  return sum;
}

Result<PerfData> parse_perf_data(std::string_view bytes) {
  constexpr unsigned char kMagic[] = {0xca, 0xfe, 0xc0, 0xc0};
  if (bytes.size() < 32 || std::memcmp(bytes.data(), kMagic, 4) != 0)
    return Error{"not a HotSpot perf-data file", 0};
  const PerfDataCursor at(bytes, bytes[4] == 1);
  const auto entry_offset = at.integer(24, 4);
  const auto entries = at.integer(28, 4);
  if (!entry_offset || !entries || *entry_offset < 32 || *entries < 0)
    return Error{"perf-data file: a bad prologue", 0};
  PerfData out;
  size_t offset = static_cast<size_t>(*entry_offset);
  for (int64_t i = 0; i < *entries; ++i) {
    const auto length = at.integer(offset, 4);
    const auto name_offset = at.integer(offset + 4, 4);
    const auto vector_length = at.integer(offset + 8, 4);
    const auto type = at.integer(offset + 12, 1);
    const auto data_offset = at.integer(offset + 16, 4);
    if (!length || !name_offset || !vector_length || !type || !data_offset || *length < 20 ||
        *name_offset < 0 || *vector_length < 0 || *data_offset < 0)
      return Error{"perf-data file: a bad entry", 0};
    const auto name = at.text(offset + static_cast<size_t>(*name_offset), 256);
    const size_t data = offset + static_cast<size_t>(*data_offset);
    if (name && *type == 'J' && *vector_length == 0) {
      if (auto value = at.integer(data, 8)) out.numbers[*name] = *value;
    } else if (name && *type == 'B' && *vector_length > 0) {
      if (auto value = at.text(data, static_cast<size_t>(*vector_length)))
        out.texts[*name] = *value;
    }
    offset += static_cast<size_t>(*length);
  }
  return out;
}

}  // namespace memvisor
