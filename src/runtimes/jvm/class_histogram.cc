// Parsing GC.class_histogram, whose rows read "   1:   28443   8898848  [B (java.base@17.0.15)".
#include "runtimes/jvm/class_histogram.h"

#include <algorithm>
#include <charconv>

#include "runtimes/jvm/java_names.h"

namespace memvisor {
namespace {

std::string_view trim_histogram_spaces(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t' || text.back() == '\r'))
    text.remove_suffix(1);
  return text;
}

// The next run of digits of `line` after spaces, consumed; nothing when there is none.
bool take_histogram_number(std::string_view& line, uint64_t& out) {
  line = trim_histogram_spaces(line);
  const auto [end, error] = std::from_chars(line.data(), line.data() + line.size(), out);
  if (error != std::errc() || end == line.data()) return false;
  line.remove_prefix(static_cast<size_t>(end - line.data()));
  return true;
}

}  // namespace

Result<ClassHistogram> parse_class_histogram(std::string_view text) {
  const std::string_view whole = text;
  ClassHistogram out;
  bool header = false;
  while (!text.empty()) {
    const size_t newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    if (line.find("#instances") != std::string_view::npos) header = true;
    // "   1:  28443  8898848  [B (java.base@17.0.15)"; "Total" and the ruler are skipped.
    std::string_view rest = line;
    uint64_t rank = 0, instances = 0, bytes = 0;
    if (!take_histogram_number(rest, rank) || rest.empty() || rest.front() != ':') continue;
    rest.remove_prefix(1);
    if (!take_histogram_number(rest, instances) || !take_histogram_number(rest, bytes)) continue;
    rest = trim_histogram_spaces(rest);
    // The module ("(java.base@17.0.15)") follows the name after a space; names have none.
    if (const size_t space = rest.find(' '); space != std::string_view::npos)
      rest = rest.substr(0, space);
    if (rest.empty()) continue;
    ClassCount& count = out[java_type_name(rest)];
    count.instances += instances;
    count.bytes += bytes;
  }
  if (!header) {
    const std::string_view first = trim_histogram_spaces(whole.substr(0, whole.find('\n')));
    return Error{"GC.class_histogram gave no histogram: " + std::string(first.substr(0, 200)), 0};
  }
  return out;
}

std::vector<ClassGrowth> class_growth(const ClassHistogram& before, const ClassHistogram& after) {
  std::vector<ClassGrowth> out;
  auto add = [&](const std::string& type, const ClassCount& was, const ClassCount& is) {
    ClassGrowth growth;
    growth.type = type;
    growth.instances = static_cast<int64_t>(is.instances) - static_cast<int64_t>(was.instances);
    growth.bytes = static_cast<int64_t>(is.bytes) - static_cast<int64_t>(was.bytes);
    if (growth.instances != 0 || growth.bytes != 0) out.push_back(std::move(growth));
  };
  for (const auto& [type, is] : after) {
    auto was = before.find(type);
    add(type, was == before.end() ? ClassCount{} : was->second, is);
  }
  for (const auto& [type, was] : before)
    if (!after.count(type)) add(type, was, ClassCount{});
  std::sort(out.begin(), out.end(), [](const ClassGrowth& a, const ClassGrowth& b) {
    if (a.bytes != b.bytes) return a.bytes > b.bytes;
    return a.type < b.type;
  });
  return out;
}

}  // namespace memvisor
