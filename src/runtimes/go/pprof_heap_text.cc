// Parsing Go's debug=1 heap profile and the difference of two of them.
#include "runtimes/go/pprof_heap_text.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <map>
#include <string>

namespace memvisor {
namespace {

std::string_view trim_text(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

bool read_number(std::string_view& s, double& out) {
  s = trim_text(s);
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc()) return false;
  out = static_cast<double>(value);
  s.remove_prefix(static_cast<size_t>(end - s.data()));
  return true;
}

bool expect_text(std::string_view& s, std::string_view what) {
  s = trim_text(s);
  if (!s.starts_with(what)) return false;
  s.remove_prefix(what.size());
  return true;
}

// "I: B [A: C] @ ..." (the record line and, after "heap profile:", the header).
bool read_counts(std::string_view& s, PprofHeapRecord& r) {
  return read_number(s, r.inuse_objects) && expect_text(s, ":") && read_number(s, r.inuse_bytes) &&
         expect_text(s, "[") && read_number(s, r.alloc_objects) && expect_text(s, ":") &&
         read_number(s, r.alloc_bytes) && expect_text(s, "]") && expect_text(s, "@");
}

// "#\t0x4d5064\tmath/rand.NewSource+0x24\t/usr/lib/go-1.19/src/math/rand/rand.go:44"
bool read_frame(std::string_view line, SourceFrame& frame) {
  line.remove_prefix(1);  // '#'
  line = trim_text(line);
  const size_t address_end = line.find_first_of(" \t");
  if (!line.starts_with("0x") || address_end == std::string_view::npos) return false;
  line = trim_text(line.substr(address_end));
  const size_t function_end = line.find_first_of(" \t");
  std::string_view function = line.substr(0, function_end);
  if (const size_t plus = function.rfind("+0x"); plus != std::string_view::npos)
    function = function.substr(0, plus);
  frame.function = std::string(function);
  std::string_view place =
      function_end == std::string_view::npos ? "" : trim_text(line.substr(function_end));
  const size_t colon = place.rfind(':');
  if (colon != std::string_view::npos) {
    int number = 0;
    std::string_view digits = place.substr(colon + 1);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), number);
    if (ec == std::errc() && end == digits.data() + digits.size()) {
      frame.line = number;
      place = place.substr(0, colon);
    }
  }
  frame.file = std::string(place);
  // The package: "github.com/x/y.(*T).m" -> "github.com/x/y", "main.leak" -> "main".
  const size_t slash = function.rfind('/');
  const size_t dot = function.find('.', slash == std::string_view::npos ? 0 : slash);
  frame.module = std::string(function.substr(0, dot));
  return !frame.function.empty();
}

// Go's own estimate of what `count` samples of `bytes` stand for (pprof's scaleHeapSample):
// an object of size s is sampled with probability 1 - exp(-s / rate).
std::pair<double, double> scaled(double count, double bytes, uint64_t rate) {
  if (count <= 0 || bytes <= 0) return {0, 0};
  if (rate <= 1) return {count, bytes};
  const double scale = 1 / (1 - std::exp(-(bytes / count) / static_cast<double>(rate)));
  return {count * scale, bytes * scale};
}

// GOROOT/src/ as the runtime's own frames show it, so the standard library is told by where its
// files are, whatever the user's module is called.
std::string standard_library_prefix(const PprofHeap& heap) {
  for (const PprofHeapRecord& r : heap.records) {
    for (const SourceFrame& f : r.frames) {
      if (!f.function.starts_with("runtime.")) continue;
      const size_t at = f.file.rfind("/src/runtime/");
      if (at != std::string::npos) return f.file.substr(0, at + 5);
    }
  }
  return "";
}

bool is_standard_frame(const SourceFrame& f, const std::string& stdlib) {
  if (!stdlib.empty()) return f.file.starts_with(stdlib);
  // No runtime frame to learn GOROOT from: a package path without a dot, other than main.
  const std::string_view first = std::string_view(f.module).substr(0, f.module.find('/'));
  return f.module != "main" && first.find('.') == std::string_view::npos;
}

}  // namespace

Result<PprofHeap> parse_pprof_heap_text(std::string_view text) {
  PprofHeap heap;
  size_t at = 0;
  bool header = false;
  PprofHeapRecord* current = nullptr;
  while (at < text.size()) {
    const size_t end = std::min(text.find('\n', at), text.size());
    std::string_view line = trim_text(text.substr(at, end - at));
    at = end + 1;
    if (line.empty()) {
      current = nullptr;
      continue;
    }
    if (!header) {
      PprofHeapRecord totals;
      std::string_view rest = line;
      if (!expect_text(rest, "heap profile:") || !read_counts(rest, totals) ||
          !expect_text(rest, "heap/")) {
        return Error{"not a Go heap profile (debug=1): its first line is not 'heap profile: ...'",
                     0};
      }
      double rate = 0;
      if (!read_number(rest, rate)) return Error{"Go heap profile: no sampling rate in its header"};
      heap.sampling_rate = static_cast<uint64_t>(rate / 2);
      header = true;
      continue;
    }
    if (line.starts_with("# runtime.MemStats")) break;
    if (line.starts_with("#")) {
      SourceFrame frame;
      if (current != nullptr && read_frame(line, frame))
        current->frames.push_back(std::move(frame));
      continue;
    }
    PprofHeapRecord record;
    std::string_view rest = line;
    if (!read_counts(rest, record))
      return Error{"Go heap profile: cannot read the record '" + std::string(line) + "'", 0};
    record.key = std::string(trim_text(rest));
    heap.records.push_back(std::move(record));
    current = &heap.records.back();
  }
  if (!header) return Error{"not a Go heap profile (debug=1): it is empty", 0};
  return heap;
}

PprofHeap pprof_heap_median(const std::vector<PprofHeap>& profiles) {
  PprofHeap out;
  if (profiles.empty()) return out;
  out.sampling_rate = profiles.back().sampling_rate;
  std::map<std::string, std::vector<const PprofHeapRecord*>> by_stack;
  for (const PprofHeap& p : profiles)
    for (const PprofHeapRecord& r : p.records) by_stack[r.key].push_back(&r);
  auto median = [&](const std::vector<const PprofHeapRecord*>& seen,
                    double PprofHeapRecord::*field) {
    std::vector<double> values(profiles.size() - seen.size(), 0.0);
    for (const PprofHeapRecord* r : seen) values.push_back(r->*field);
    std::sort(values.begin(), values.end());
    return values[values.size() / 2];
  };
  for (const auto& [key, seen] : by_stack) {
    PprofHeapRecord r = *seen.back();
    r.inuse_objects = median(seen, &PprofHeapRecord::inuse_objects);
    r.inuse_bytes = median(seen, &PprofHeapRecord::inuse_bytes);
    r.alloc_objects = median(seen, &PprofHeapRecord::alloc_objects);
    r.alloc_bytes = median(seen, &PprofHeapRecord::alloc_bytes);
    out.records.push_back(std::move(r));
  }
  return out;
}

RuntimeProfile pprof_heap_diff(const PprofHeap& before, const PprofHeap& after) {
  RuntimeProfile profile;
  profile.runtime = "go";
  profile.interval_bytes = after.sampling_rate;
  std::map<std::string, const PprofHeapRecord*> earlier;
  for (const PprofHeapRecord& r : before.records) earlier[r.key] = &r;
  const std::string stdlib = standard_library_prefix(after);
  for (const PprofHeapRecord& r : after.records) {
    PprofHeapRecord base;
    if (auto found = earlier.find(r.key); found != earlier.end()) base = *found->second;
    const auto [alloc_count, alloc_bytes] =
        scaled(r.alloc_objects, r.alloc_bytes, after.sampling_rate);
    const auto [was_alloc_count, was_alloc_bytes] =
        scaled(base.alloc_objects, base.alloc_bytes, after.sampling_rate);
    const auto [live_count, live_bytes] =
        scaled(r.inuse_objects, r.inuse_bytes, after.sampling_rate);
    const auto [was_live_count, was_live_bytes] =
        scaled(base.inuse_objects, base.inuse_bytes, after.sampling_rate);
    ProfileEntry e;
    e.allocated_bytes = std::max(0.0, alloc_bytes - was_alloc_bytes);
    e.allocated_count = std::max(0.0, alloc_count - was_alloc_count);
    e.retained_bytes = std::max(0.0, live_bytes - was_live_bytes);
    e.retained_count = std::max(0.0, live_count - was_live_count);
    e.samples = static_cast<uint64_t>(std::max(0.0, r.alloc_objects - base.alloc_objects));
    e.retained_samples = static_cast<uint64_t>(std::max(0.0, r.inuse_objects - base.inuse_objects));
    if (e.allocated_bytes <= 0 && e.retained_bytes <= 0) continue;
    e.frames = r.frames;
    while (e.site + 1 < e.frames.size() && is_standard_frame(e.frames[e.site], stdlib)) ++e.site;
    if (is_standard_frame(e.frames.empty() ? SourceFrame{} : e.frames[e.site], stdlib)) e.site = 0;
    profile.entries.push_back(std::move(e));
  }
  return profile;
}

}  // namespace memvisor
