// Aggregation of symbolised samples into the report tables, and their JSON and text forms.
#include "heap_report/heap_report.h"

#include <algorithm>
#include <cmath>
#include <map>

#include "core/units.h"

namespace memvisor {
namespace {

std::string size_class(uint64_t size) {
  uint64_t low = 1;
  while (low * 2 <= size && low < (uint64_t{1} << 62)) low *= 2;
  if (size == 0) return "0 B";
  return format_size(low) + " - " + format_size(low * 2 - 1);
}

using Table = ReportTable;

void add_to(Table& table, const std::string& key, const RawSample& sample, bool live) {
  ReportRow& row = table[key];
  row.key = key;
  row.allocated.add(sample);
  if (live) row.retained.add(sample);
}

nlohmann::json estimate_json(const Estimate& e) {
  return {
      {"bytes", std::llround(e.bytes)}, {"count", std::llround(e.count)}, {"samples", e.samples}};
}

nlohmann::json rows_json(const std::vector<ReportRow>& rows, const char* key_name) {
  nlohmann::json out = nlohmann::json::array();
  for (const ReportRow& row : rows) {
    nlohmann::json item = {{key_name, row.key},
                           {"allocated", estimate_json(row.allocated)},
                           {"retained", estimate_json(row.retained)}};
    if (!row.frames.empty()) item["frames"] = row.frames;
    out.push_back(std::move(item));
  }
  return out;
}

std::string bytes_text(double bytes) {
  return format_size(static_cast<uint64_t>(std::llround(bytes)));
}

}  // namespace

std::string frame_location(const SourceFrame& frame) {
  if (frame.file.empty()) return frame.function + " [" + frame.module + "]";
  if (frame.line <= 0) return frame.file;
  return frame.file + ":" + std::to_string(frame.line);
}

std::string describe_frame(const SourceFrame& frame) {
  std::string text = frame.function;
  if (!frame.file.empty()) text += " (" + frame_location(frame) + ")";
  if (!frame.module.empty()) text += " [" + frame.module + "]";
  return text;
}

std::vector<ReportRow> rank_rows(ReportTable table, size_t limit) {
  std::vector<ReportRow> rows;
  rows.reserve(table.size());
  for (auto& [key, row] : table) rows.push_back(std::move(row));
  std::sort(rows.begin(), rows.end(), [](const ReportRow& a, const ReportRow& b) {
    if (a.retained.bytes != b.retained.bytes) return a.retained.bytes > b.retained.bytes;
    if (a.allocated.bytes != b.allocated.bytes) return a.allocated.bytes > b.allocated.bytes;
    return a.key < b.key;
  });
  if (rows.size() > limit) rows.resize(limit);
  return rows;
}

void Estimate::add(const RawSample& sample) {
  add(sample.weight, sample.size == 0 ? 0 : sample.weight / static_cast<double>(sample.size), 1);
}

void Estimate::add(double more_bytes, double more_count, uint64_t more_samples) {
  bytes += more_bytes;
  count += more_count;
  samples += more_samples;
}

bool is_plumbing_frame(const SourceFrame& frame) {
  static const char* const kPlumbing[] = {
      "operator new",
      "__gnu_cxx::new_allocator",
      "std::__new_allocator",
      "std::allocator",
      "strdup",
      "__strdup",
      "strndup",
      "__strndup",
      "__libc_malloc",
      "__libc_calloc",
      "__libc_realloc",
      "reallocarray",
  };
  for (const char* prefix : kPlumbing) {
    if (frame.function.rfind(prefix, 0) == 0) return true;
  }
  // The C and C++ standard libraries: a std::string or a std::vector growing, a line read by
  // getline, is memory the calling function asked for (README: a row is charged to the program's
  // own frame, not the standard library's).
  static const char* const kStandardLibraries[] = {
      "libstdc++.so", "libc++.so", "libc++abi.so", "libc.so", "libgcc_s.so", "ld-linux",
  };
  for (const char* prefix : kStandardLibraries) {
    if (frame.module.rfind(prefix, 0) == 0) return true;
  }
  // Their templates instantiated in the program (std::vector<T>::_M_realloc_insert) are theirs too.
  return is_system_header(frame.file);
}

HeapReport build_heap_report(const RawSamples& raw, Symbolizer& symbolizer, size_t limit) {
  HeapReport report;
  report.method =
      "libmemvisor_sampler.so (LD_PRELOAD): malloc, calloc, realloc, memalign and operator new "
      "sampled by bytes, each sample followed until it is freed";
  report.covers =
      "native heap allocations through the C allocator; memory a runtime maps itself (a JIT or "
      "GC heap) is not seen";
  report.caveats = {
      "retained: sampled in the window and not freed at its end; allocations still in use by "
      "requests in flight at that moment look retained too, so a leak is the site whose retained "
      "bytes keep growing from one sample to the next",
      "figures are estimates from one sample per interval_bytes on average"};
  report.pid = raw.pid;
  report.interval_bytes = raw.interval_bytes;
  report.unwinder = raw.unwinder;
  report.libunwind_walks = raw.libunwind_walks;
  report.complete = raw.complete;
  report.dropped = raw.dropped;
  if (raw.complete && raw.end_ns >= raw.start_ns)
    report.window_s = static_cast<double>(raw.end_ns - raw.start_ns) / 1e9;
  Table modules, functions, locations, sizes, stacks;
  for (const RawSample& sample : raw.samples) {
    const bool live = sample.freed_ns == 0;
    report.total_allocated.add(sample);
    if (live) report.total_retained.add(sample);
    std::vector<SourceFrame> frames;
    frames.reserve(sample.frames.size());
    for (uint64_t address : sample.frames) frames.push_back(symbolizer.resolve(address));
    size_t site = 0;
    while (site + 1 < frames.size() && is_plumbing_frame(frames[site])) ++site;
    const SourceFrame unknown{"?", "?", "", 0};
    const SourceFrame& at = frames.empty() ? unknown : frames[site];
    add_to(modules, at.module, sample, live);
    add_to(functions, at.function, sample, live);
    add_to(locations, frame_location(at), sample, live);
    add_to(sizes, size_class(sample.size), sample, live);
    std::string stack_key;
    for (uint64_t address : sample.frames) stack_key += std::to_string(address) + ",";
    ReportRow& stack = stacks[stack_key];
    if (stack.frames.empty())
      for (const SourceFrame& f : frames) stack.frames.push_back(describe_frame(f));
    add_to(stacks, stack_key, sample, live);
  }
  report.by_module = rank_rows(std::move(modules), limit);
  report.by_function = rank_rows(std::move(functions), limit);
  report.by_location = rank_rows(std::move(locations), limit);
  report.by_size_class = rank_rows(std::move(sizes), 64);
  report.top_stacks = rank_rows(std::move(stacks), std::min<size_t>(limit, 10));
  // Stack keys are raw addresses; number them for readers.
  for (size_t i = 0; i < report.top_stacks.size(); ++i)
    report.top_stacks[i].key = "#" + std::to_string(i + 1);
  return report;
}

nlohmann::json heap_report_json(const HeapReport& report) {
  nlohmann::json j = {{"runtime", report.runtime},
                      {"method", report.method},
                      {"covers", report.covers},
                      {"allocated_known", report.allocated_known},
                      {"retained_known", report.retained_known},
                      {"pid", report.pid},
                      {"window_s", report.window_s},
                      {"complete", report.complete},
                      {"interval_bytes", report.interval_bytes},
                      {"unwinder", report.unwinder},
                      {"libunwind_walks", report.libunwind_walks},
                      {"dropped_samples", report.dropped},
                      {"total_allocated", estimate_json(report.total_allocated)},
                      {"total_retained", estimate_json(report.total_retained)},
                      {"by_module", rows_json(report.by_module, "module")},
                      {"by_function", rows_json(report.by_function, "function")},
                      {"by_location", rows_json(report.by_location, "location")},
                      {"by_size_class", rows_json(report.by_size_class, "size_class")},
                      {"by_type", rows_json(report.by_type, "type")},
                      {"top_stacks", rows_json(report.top_stacks, "stack")},
                      {"caveats", report.caveats}};
  if (report.interval_bytes == 0) j.erase("interval_bytes");
  if (report.runtime != "native") {
    j.erase("unwinder");
    j.erase("libunwind_walks");
    j.erase("dropped_samples");
  }
  return j;
}

std::string heap_report_summary(const HeapReport& report) {
  char window[32];
  std::snprintf(window, sizeof window, "%.1fs", report.window_s);
  std::string out = report.runtime + " heap sample of pid " + std::to_string(report.pid) +
                    " over " + window + (report.complete ? "" : " (incomplete)");
  if (report.runtime == "native") {
    out += ", one sample per " + format_size(report.interval_bytes) + " on average, stacks by " +
           report.unwinder;
  }
  out += "\nmethod: " + report.method + "\ncovers: " + report.covers + "\n";
  auto total = [&](const char* title, bool known, const Estimate& e) {
    if (!known) {
      out += std::string(title) + " not told apart by this method\n";
      return;
    }
    out += std::string(title) + " ~" + bytes_text(e.bytes) + " in ~" +
           std::to_string(std::llround(e.count)) +
           (report.runtime == "native" ? " allocations (" : " objects (") +
           std::to_string(e.samples) + " samples)\n";
  };
  total("allocated:", report.allocated_known, report.total_allocated);
  total("retained: ", report.retained_known, report.total_retained);
  auto table = [&](const char* title, const std::vector<ReportRow>& rows) {
    // A method that sees only survivors has no allocated column to show.
    const bool both = report.allocated_known;
    out += std::string("\n") + title + (both ? " (retained / allocated)\n" : " (retained)\n");
    for (size_t i = 0; i < rows.size() && i < 5; ++i) {
      out += "  " + bytes_text(rows[i].retained.bytes) +
             (both ? " / " + bytes_text(rows[i].allocated.bytes) : "") + "  " + rows[i].key + "\n";
    }
  };
  table("top functions", report.by_function);
  table("top locations", report.by_location);
  table("top modules", report.by_module);
  if (!report.by_type.empty()) table("top types", report.by_type);
  if (!report.top_stacks.empty()) {
    out += "\ntop retained stack: " + bytes_text(report.top_stacks[0].retained.bytes) + "\n";
    for (const std::string& frame : report.top_stacks[0].frames) out += "    " + frame + "\n";
  }
  if (!report.caveats.empty()) {
    out += "\nhow to read it:\n";
    for (const std::string& caveat : report.caveats) out += "  - " + caveat + "\n";
  }
  return out;
}

std::string heap_report_headline(const nlohmann::json& report) {
  if (!report.is_object()) return "unreadable report";
  const auto text = [](const nlohmann::json& object, const char* key) {
    const auto found = object.find(key);
    return found != object.end() && found->is_string() ? found->get<std::string>() : "";
  };
  const auto bytes = [](const nlohmann::json& estimate) {
    const auto found = estimate.is_object() ? estimate.find("bytes") : estimate.end();
    return found != estimate.end() && found->is_number() ? found->get<double>() : 0.0;
  };
  const std::string runtime = text(report, "runtime");
  std::string out = runtime.empty() ? "heap sample" : runtime;
  // Only the native sampler samples by bytes; the runtimes' own profilers trace or sample
  // otherwise (their method says how, in heap_sample.json).
  if (const auto interval = report.find("interval_bytes");
      runtime == "native" && interval != report.end() && interval->is_number_unsigned()) {
    out += ", one sample per " + format_size(interval->get<uint64_t>()) + " on average";
  }
  const bool retained = report.value("retained_known", false);
  const char* measure = retained ? "retained" : "allocated";
  // The top row of a table: "name ~1.2 MiB retained", or nothing.
  const auto top = [&](const char* table, const char* key) -> std::string {
    const auto rows = report.find(table);
    if (rows == report.end() || !rows->is_array() || rows->empty()) return "";
    const nlohmann::json& row = rows->front();
    if (!row.is_object() || text(row, key).empty()) return "";
    const auto estimate = row.find(measure);
    return fmt::format("{} ~{} {}", text(row, key),
                       bytes_text(estimate != row.end() ? bytes(*estimate) : 0), measure);
  };
  const std::string function = top("by_function", "function");
  const std::string location = top("by_location", "location");
  if (function.empty() && location.empty()) return out + "; no allocation seen";
  if (!function.empty()) out += "; top function " + function;
  if (!location.empty()) out += "; top line " + location;
  return out;
}

}  // namespace memvisor
