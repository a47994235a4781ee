// Aggregation of a runtime's weighted stacks into the report tables, and the agents' JSON form.
#include "heap_report/runtime_profile.h"

#include <algorithm>
#include <map>

namespace memvisor {
namespace {

constexpr size_t kMaxEntries = 100000;
constexpr size_t kMaxFrames = 256;
constexpr size_t kMaxText = 4096;

using Table = ReportTable;

uint64_t retained_samples_of(const ProfileEntry& e) {
  if (e.retained_samples > 0) return e.retained_samples;
  return e.retained_bytes > 0 ? e.samples : 0;
}

void add_to(Table& table, const std::string& key, const ProfileEntry& e) {
  ReportRow& row = table[key];
  row.key = key;
  row.allocated.add(e.allocated_bytes, e.allocated_count, e.samples);
  row.retained.add(e.retained_bytes, e.retained_count, retained_samples_of(e));
}

// Bounded text from an agent: a string, cut at kMaxText.
Result<std::string> text_field(const nlohmann::json& j, const char* key, bool required) {
  if (!j.contains(key)) {
    if (required) return Error{std::string("profile: missing field \"") + key + "\"", 0};
    return std::string();
  }
  if (!j[key].is_string()) return Error{std::string("profile: \"") + key + "\" is not a string", 0};
  std::string value = j[key].get<std::string>();
  if (value.size() > kMaxText) value.resize(kMaxText);
  return value;
}

Result<double> number_field(const nlohmann::json& j, const char* key) {
  if (!j.contains(key)) return 0.0;
  if (!j[key].is_number() || j[key].get<double>() < 0)
    return Error{std::string("profile: \"") + key + "\" is not a number >= 0", 0};
  return j[key].get<double>();
}

Result<ProfileEntry> entry_from_json(const nlohmann::json& j) {
  if (!j.is_object()) return Error{"profile: an entry is not an object", 0};
  ProfileEntry e;
  if (j.contains("frames")) {
    if (!j["frames"].is_array()) return Error{"profile: \"frames\" is not an array", 0};
    for (const auto& f : j["frames"]) {
      if (e.frames.size() == kMaxFrames) break;
      if (!f.is_object()) return Error{"profile: a frame is not an object", 0};
      SourceFrame frame;
      auto function = text_field(f, "function", true);
      auto file = text_field(f, "file", false);
      auto module = text_field(f, "module", false);
      if (!function) return function.error();
      if (!file) return file.error();
      if (!module) return module.error();
      frame.function = *function;
      frame.file = *file;
      frame.module = *module;
      if (f.contains("line")) {
        if (!f["line"].is_number_integer()) return Error{"profile: \"line\" is not an integer", 0};
        frame.line = static_cast<int>(std::clamp<int64_t>(f["line"].get<int64_t>(), 0, 1 << 30));
      }
      e.frames.push_back(std::move(frame));
    }
  }
  auto type = text_field(j, "type", false);
  if (!type) return type.error();
  e.type = *type;
  for (auto [key, out] : {std::pair{"allocated_bytes", &e.allocated_bytes},
                          std::pair{"allocated_count", &e.allocated_count},
                          std::pair{"retained_bytes", &e.retained_bytes},
                          std::pair{"retained_count", &e.retained_count}}) {
    auto value = number_field(j, key);
    if (!value) return value.error();
    *out = *value;
  }
  auto samples = number_field(j, "samples");
  auto retained_samples = number_field(j, "retained_samples");
  if (!retained_samples) return retained_samples.error();
  e.retained_samples = static_cast<uint64_t>(std::min(*retained_samples, 1e15));
  auto site = number_field(j, "site");
  if (!samples) return samples.error();
  if (!site) return site.error();
  e.samples = static_cast<uint64_t>(std::min(*samples, 1e15));
  e.site = e.frames.empty() ? 0 : std::min(static_cast<size_t>(*site), e.frames.size() - 1);
  return e;
}

Result<std::vector<ProfileEntry>> entries_from_json(const nlohmann::json& j, const char* key) {
  std::vector<ProfileEntry> out;
  if (!j.contains(key)) return out;
  if (!j[key].is_array()) return Error{std::string("profile: \"") + key + "\" is not an array", 0};
  if (j[key].size() > kMaxEntries)
    return Error{std::string("profile: more than 100000 \"") + key + "\"", 0};
  for (const auto& item : j[key]) {
    auto entry = entry_from_json(item);
    if (!entry) return entry.error();
    out.push_back(std::move(*entry));
  }
  return out;
}

nlohmann::json entry_json(const ProfileEntry& e) {
  nlohmann::json frames = nlohmann::json::array();
  for (const SourceFrame& f : e.frames)
    frames.push_back(
        {{"function", f.function}, {"file", f.file}, {"line", f.line}, {"module", f.module}});
  return {{"frames", std::move(frames)},
          {"site", e.site},
          {"type", e.type},
          {"allocated_bytes", e.allocated_bytes},
          {"allocated_count", e.allocated_count},
          {"retained_bytes", e.retained_bytes},
          {"retained_count", e.retained_count},
          {"samples", e.samples}};
}

}  // namespace

HeapReport build_runtime_report(const RuntimeProfile& profile, size_t limit) {
  HeapReport report;
  report.runtime = profile.runtime;
  report.method = profile.method;
  report.covers = profile.covers;
  report.allocated_known = profile.allocated_known;
  report.retained_known = profile.retained_known;
  report.pid = profile.pid;
  report.window_s = profile.window_s;
  report.complete = profile.complete;
  report.interval_bytes = profile.interval_bytes;
  report.caveats = profile.caveats;
  Table modules, functions, locations, types, stacks;
  for (const ProfileEntry& e : profile.entries) {
    report.total_allocated.add(e.allocated_bytes, e.allocated_count, e.samples);
    report.total_retained.add(e.retained_bytes, e.retained_count, retained_samples_of(e));
    const SourceFrame unknown{"?", "?", "", 0};
    const SourceFrame& at =
        e.frames.empty() ? unknown : e.frames[std::min(e.site, e.frames.size() - 1)];
    add_to(modules, at.module.empty() ? "?" : at.module, e);
    add_to(functions, at.function, e);
    add_to(locations, frame_location(at), e);
    if (profile.types.empty() && !e.type.empty()) add_to(types, e.type, e);
    std::string stack_key;
    for (const SourceFrame& f : e.frames) stack_key += describe_frame(f) + "\n";
    ReportRow& stack = stacks[stack_key];
    if (stack.frames.empty())
      for (const SourceFrame& f : e.frames) stack.frames.push_back(describe_frame(f));
    add_to(stacks, stack_key, e);
  }
  for (const ProfileEntry& e : profile.types) add_to(types, e.type.empty() ? "?" : e.type, e);
  report.by_module = rank_rows(std::move(modules), limit);
  report.by_function = rank_rows(std::move(functions), limit);
  report.by_location = rank_rows(std::move(locations), limit);
  report.by_type = rank_rows(std::move(types), limit);
  report.top_stacks = rank_rows(std::move(stacks), std::min<size_t>(limit, 10));
  for (size_t i = 0; i < report.top_stacks.size(); ++i)
    report.top_stacks[i].key = "#" + std::to_string(i + 1);
  return report;
}

Result<RuntimeProfile> runtime_profile_from_json(const nlohmann::json& j) {
  if (!j.is_object()) return Error{"profile: not a JSON object", 0};
  RuntimeProfile p;
  auto runtime = text_field(j, "runtime", true);
  auto method = text_field(j, "method", true);
  auto covers = text_field(j, "covers", false);
  if (!runtime) return runtime.error();
  if (!method) return method.error();
  if (!covers) return covers.error();
  p.runtime = *runtime;
  p.method = *method;
  p.covers = *covers;
  auto window = number_field(j, "window_s");
  auto interval = number_field(j, "interval_bytes");
  if (!window) return window.error();
  if (!interval) return interval.error();
  p.window_s = *window;
  p.interval_bytes = static_cast<uint64_t>(std::min(*interval, 1e15));
  for (auto [key, out] :
       {std::pair{"complete", &p.complete}, std::pair{"allocated_known", &p.allocated_known},
        std::pair{"retained_known", &p.retained_known}}) {
    if (!j.contains(key)) continue;
    if (!j[key].is_boolean())
      return Error{std::string("profile: \"") + key + "\" is not a boolean", 0};
    *out = j[key].get<bool>();
  }
  auto entries = entries_from_json(j, "entries");
  auto types = entries_from_json(j, "types");
  if (!entries) return entries.error();
  if (!types) return types.error();
  p.entries = std::move(*entries);
  p.types = std::move(*types);
  if (j.contains("caveats")) {
    if (!j["caveats"].is_array()) return Error{"profile: \"caveats\" is not an array", 0};
    for (const auto& c : j["caveats"]) {
      if (!c.is_string()) return Error{"profile: a caveat is not a string", 0};
      if (p.caveats.size() < 32) p.caveats.push_back(c.get<std::string>().substr(0, kMaxText));
    }
  }
  return p;
}

nlohmann::json runtime_profile_json(const RuntimeProfile& p) {
  nlohmann::json entries = nlohmann::json::array(), types = nlohmann::json::array();
  for (const ProfileEntry& e : p.entries) entries.push_back(entry_json(e));
  for (const ProfileEntry& e : p.types) types.push_back(entry_json(e));
  return {{"runtime", p.runtime},
          {"method", p.method},
          {"covers", p.covers},
          {"pid", p.pid},
          {"window_s", p.window_s},
          {"complete", p.complete},
          {"interval_bytes", p.interval_bytes},
          {"allocated_known", p.allocated_known},
          {"retained_known", p.retained_known},
          {"entries", std::move(entries)},
          {"types", std::move(types)},
          {"caveats", p.caveats}};
}

}  // namespace memvisor
