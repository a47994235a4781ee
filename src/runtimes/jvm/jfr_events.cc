// Reading jfr print --json: its events' fields (jdk.jfr.internal.tool.JSONWriter's layout) and
// the cutting of its document into events.
#include "runtimes/jvm/jfr_events.h"

#include <charconv>

#include "runtimes/jvm/java_names.h"

namespace memvisor {
namespace {

// j[key] when it is an object, else null: JFR writes null for absent values.
const nlohmann::json& jfr_member(const nlohmann::json& j, const char* key) {
  static const nlohmann::json kNull;
  if (!j.is_object()) return kNull;
  auto found = j.find(key);
  return found == j.end() ? kNull : *found;
}

std::string jfr_text(const nlohmann::json& j, const char* key) {
  const nlohmann::json& value = jfr_member(j, key);
  return value.is_string() ? value.get<std::string>() : "";
}

int64_t jfr_integer(const nlohmann::json& j, const char* key, int64_t otherwise) {
  const nlohmann::json& value = jfr_member(j, key);
  if (value.is_number_integer()) return value.get<int64_t>();
  if (value.is_number_unsigned())
    return static_cast<int64_t>(std::min<uint64_t>(value.get<uint64_t>(), INT64_MAX));
  return otherwise;
}

bool parse_digits(std::string_view text, size_t at, size_t count, int& out) {
  if (at + count > text.size()) return false;
  const auto [end, error] = std::from_chars(text.data() + at, text.data() + at + count, out);
  return error == std::errc() && end == text.data() + at + count;
}

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil).
int64_t jfr_days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const auto yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

}  // namespace

Result<int64_t> parse_jfr_time(std::string_view text) {
  int year = 0, month = 0, day = 0, hour = 0, minute = 0, second = 0;
  if (text.size() < 20 || text[4] != '-' || text[7] != '-' || text[10] != 'T' || text[13] != ':' ||
      text[16] != ':' || text.back() != 'Z' || !parse_digits(text, 0, 4, year) ||
      !parse_digits(text, 5, 2, month) || !parse_digits(text, 8, 2, day) ||
      !parse_digits(text, 11, 2, hour) || !parse_digits(text, 14, 2, minute) ||
      !parse_digits(text, 17, 2, second) || month < 1 || month > 12 || day < 1 || day > 31)
    return Error{"not a JFR time: " + std::string(text.substr(0, 40)), 0};
  int64_t nanos = 0;
  size_t at = 19;
  if (text[at] == '.') {
    int64_t scale = 100000000;
    for (++at; at < text.size() - 1; ++at) {
      if (text[at] < '0' || text[at] > '9') return Error{"not a JFR time: " + std::string(text), 0};
      nanos += (text[at] - '0') * scale;
      scale /= 10;
    }
  }
  if (at != text.size() - 1) return Error{"not a JFR time: " + std::string(text.substr(0, 40)), 0};
  const int64_t days =
      jfr_days_from_civil(year, static_cast<unsigned>(month), static_cast<unsigned>(day));
  return ((days * 24 + hour) * 60 + minute) * 60'000'000'000LL + second * 1'000'000'000LL + nanos;
}

Result<JfrSample> jfr_sample_from_json(const nlohmann::json& event) {
  const std::string type = jfr_text(event, "type");
  const nlohmann::json& values = jfr_member(event, "values");
  JfrSample sample;
  if (type == "jdk.OldObjectSample") {
    sample.old_object = true;
    auto time = parse_jfr_time(jfr_text(values, "allocationTime"));
    if (!time) return time.error();
    sample.time_ns = *time;
    const std::string name = jfr_text(jfr_member(jfr_member(values, "object"), "type"), "name");
    if (!name.empty()) sample.type = java_type_name(name);
    // Not an array: Integer.MIN_VALUE.
    const int64_t elements = jfr_integer(values, "arrayElements", -1);
    sample.array_elements = elements >= 0 ? elements : -1;
    sample.object_bytes = std::max<int64_t>(jfr_integer(values, "objectSize", 0), 0);
  } else if (type == "jdk.ObjectAllocationSample") {
    auto time = parse_jfr_time(jfr_text(values, "startTime"));
    if (!time) return time.error();
    sample.time_ns = *time;
    const std::string name = jfr_text(jfr_member(values, "objectClass"), "name");
    if (!name.empty()) sample.type = java_type_name(name);
    sample.weight = static_cast<double>(std::max<int64_t>(jfr_integer(values, "weight", 0), 0));
  } else {
    return Error{"not a heap sample event: " + type.substr(0, 80), 0};
  }
  const nlohmann::json& thread = jfr_member(values, "eventThread");
  sample.thread = jfr_text(thread, "javaName");
  sample.thread_id = jfr_integer(thread, "javaThreadId", 0);
  const nlohmann::json& frames = jfr_member(jfr_member(values, "stackTrace"), "frames");
  bool site_found = false;
  if (frames.is_array()) {
    for (const nlohmann::json& frame : frames) {
      const nlohmann::json& method = jfr_member(frame, "method");
      const std::string owner = jfr_text(jfr_member(method, "type"), "name");
      const std::string name = jfr_text(method, "name");
      if (owner.empty() || name.empty()) continue;
      const int64_t line = jfr_integer(frame, "lineNumber", 0);
      sample.frames.push_back(
          java_frame(owner, name, static_cast<int>(std::clamp<int64_t>(line, 0, 1 << 30))));
      // Hidden frames (lambda forms, generated accessors) are the runtime's plumbing too.
      const bool hidden =
          jfr_member(method, "hidden").is_boolean() && jfr_member(method, "hidden").get<bool>();
      if (!site_found && !hidden && !is_java_library_class(owner)) {
        sample.site = sample.frames.size() - 1;
        site_found = true;
      }
    }
  }
  return sample;
}

Status JfrEventStream::feed(std::string_view bytes) {
  // Depth 1 is the document, 2 "recording", 3 the "events" array; an event is an object opened
  // at depth 3. Only the characters inside one are kept.
  for (const char c : bytes) {
    const bool in_event = depth_ >= 4;
    if (in_event) {
      event_ += c;
      if (event_.size() > max_event_)
        return Error{"a JFR event of more than " + std::to_string(max_event_ >> 20) + " MiB", 0};
    }
    if (in_string_) {
      if (escaped_) {
        escaped_ = false;
      } else if (c == '\\') {
        escaped_ = true;
      } else if (c == '"') {
        in_string_ = false;
      }
      continue;
    }
    if (c == '"') {
      in_string_ = true;
    } else if (c == '{' || c == '[') {
      if (depth_ == 3 && c == '{') event_.assign(1, c);
      ++depth_;
    } else if (c == '}' || c == ']') {
      if (depth_ == 0) return Error{"jfr print: unbalanced JSON", 0};
      --depth_;
      if (depth_ == 3 && c == '}') {
        on_event_(event_);
        event_.clear();
      }
      if (depth_ == 0) closed_ = true;
    }
  }
  return {};
}

}  // namespace memvisor
