// From V8's SamplingHeapProfile tree to ProfileEntry stacks.
#include "runtimes/node/node_profile.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

namespace memvisor::nodejs {
namespace {

constexpr size_t kMaxProfileNodes = 2000000;
constexpr size_t kMaxProfileDepth = 1024;  // V8 keeps 128 frames; more is not V8's profile
constexpr size_t kMaxFrameText = 4096;

int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

std::string percent_decoded(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size()) {
      const int high = hex_value(text[i + 1]), low = hex_value(text[i + 2]);
      if (high >= 0 && low >= 0) {
        out += static_cast<char>(high * 16 + low);
        i += 2;
        continue;
      }
    }
    out += text[i];
  }
  return out;
}

std::string bounded_text(std::string text) {
  if (text.size() > kMaxFrameText) text.resize(kMaxFrameText);
  return text;
}

struct ProfileNodeFrame {
  SourceFrame frame;
  bool runtime = false;
};

Result<ProfileNodeFrame> frame_of_profile_node(const nlohmann::json& node) {
  if (!node.is_object() || !node.contains("callFrame") || !node["callFrame"].is_object())
    return Error{"heap profile: a node without a callFrame", 0};
  const nlohmann::json& call = node["callFrame"];
  const auto text = [&](const char* key) {
    return call.contains(key) && call[key].is_string() ? call[key].get<std::string>() : "";
  };
  const std::string url = bounded_text(text("url"));
  ProfileNodeFrame out;
  out.frame.function = bounded_text(text("functionName"));
  if (out.frame.function.empty()) out.frame.function = "(anonymous)";
  out.frame.file = file_of_script_url(url);
  out.frame.module = module_of_script_url(url);
  // The protocol's lines are 0-based, -1 when unknown.
  if (call.contains("lineNumber") && call["lineNumber"].is_number_integer()) {
    const int64_t line = call["lineNumber"].get<int64_t>();
    out.frame.line = line >= 0 && line < (1 << 30) ? static_cast<int>(line + 1) : 0;
  }
  out.runtime = is_runtime_frame(url);
  return out;
}

}  // namespace

std::string file_of_script_url(std::string_view url) {
  if (url.rfind("file://", 0) == 0) return percent_decoded(url.substr(7));
  return std::string(url);
}

std::string module_of_script_url(std::string_view url) {
  if (url.empty()) return "v8";
  if (is_runtime_frame(url)) return "node";
  const std::string file = file_of_script_url(url);
  constexpr std::string_view kModules = "node_modules/";
  const size_t at = file.rfind(kModules);
  if (at != std::string::npos) {
    const std::string rest = file.substr(at + kModules.size());
    size_t end = rest.find('/');
    if (!rest.empty() && rest[0] == '@' && end != std::string::npos) end = rest.find('/', end + 1);
    const std::string package = rest.substr(0, end);
    if (!package.empty()) return package;
  }
  const size_t slash = file.find_last_of('/');
  return slash == std::string::npos ? file : file.substr(slash + 1);
}

bool is_runtime_frame(std::string_view url) {
  return url.empty() || url.rfind("node:", 0) == 0 || url.rfind("internal/", 0) == 0;
}

double objects_of_sample_weight(double weight, double interval) {
  if (!(weight > 0) || !(interval > 0)) return 0;
  const auto scale_of = [&](double size) { return 1.0 / -std::expm1(-size / interval); };
  // weight = s * scale(s) is increasing in s, and s <= weight <= s + interval.
  double low = std::max(0.0, weight - interval), high = weight;
  for (int i = 0; i < 100 && high - low > 1e-9 * weight; ++i) {
    const double mid = (low + high) / 2;
    (mid * scale_of(mid) < weight ? low : high) = mid;
  }
  const double size = (low + high) / 2;
  if (!(size > 0)) return 1;
  const double estimate = weight / size;
  // V8 rounds the count to an integer and the weight is size * count: the integer near the
  // estimate that divides the weight and rounds back to itself is exact.
  const double whole = std::round(weight);
  if (whole == weight && whole < 9e15) {
    for (double count = std::max(1.0, std::floor(estimate) - 2); count <= estimate + 2; ++count) {
      const double object = whole / count;
      if (object != std::floor(object)) continue;
      if (std::floor(scale_of(object) + 0.5) == count) return count;
    }
  }
  return std::max(1.0, estimate);
}

Result<std::vector<ProfileEntry>> entries_from_sampling_profile(const nlohmann::json& profile,
                                                                double interval,
                                                                NodeProfileTotals* totals) {
  if (!profile.is_object() || !profile.contains("head") || !profile["head"].is_object())
    return Error{"heap profile: no \"head\" node", 0};
  // Samples by node id: how many, and the objects they stand for.
  struct NodeSamples {
    uint64_t samples = 0;
    double objects = 0;
  };
  std::unordered_map<int64_t, NodeSamples> by_node;
  if (profile.contains("samples") && profile["samples"].is_array()) {
    for (const auto& sample : profile["samples"]) {
      if (!sample.is_object() || !sample.contains("nodeId") || !sample.contains("size") ||
          !sample["nodeId"].is_number_integer() || !sample["size"].is_number())
        return Error{"heap profile: a sample without nodeId and size", 0};
      NodeSamples& node = by_node[sample["nodeId"].get<int64_t>()];
      node.samples += 1;
      node.objects += objects_of_sample_weight(sample["size"].get<double>(), interval);
    }
  }

  std::vector<ProfileEntry> entries;
  NodeProfileTotals sums;
  // Depth-first without recursion; `path` holds the frames from the root's child down.
  struct Pending {
    const nlohmann::json* node;
    size_t depth;  // number of frames above it
  };
  std::vector<Pending> pending;
  std::vector<ProfileNodeFrame> path;
  size_t visited = 0;
  const nlohmann::json& head = profile["head"];
  if (!head.contains("children") || !head["children"].is_array())
    return Error{"heap profile: the head has no children list", 0};
  for (auto it = head["children"].rbegin(); it != head["children"].rend(); ++it)
    pending.push_back({&*it, 0});
  while (!pending.empty()) {
    const Pending item = pending.back();
    pending.pop_back();
    if (++visited > kMaxProfileNodes) return Error{"heap profile: more than 2000000 nodes", 0};
    if (item.depth >= kMaxProfileDepth) return Error{"heap profile: deeper than 1024 frames", 0};
    auto frame = frame_of_profile_node(*item.node);
    if (!frame) return frame.error();
    path.resize(item.depth);
    path.push_back(std::move(*frame));
    const nlohmann::json& node = *item.node;
    const double self = node.contains("selfSize") && node["selfSize"].is_number()
                            ? node["selfSize"].get<double>()
                            : 0;
    if (self > 0) {
      ProfileEntry entry;
      size_t site = path.size();  // none yet
      size_t named_runtime = path.size();
      for (size_t i = path.size(); i-- > 0;) {
        const size_t inner = path.size() - 1 - i;  // index once reversed
        entry.frames.push_back(path[i].frame);
        if (site == path.size() && !path[i].runtime) site = inner;
        if (named_runtime == path.size() && !path[i].frame.file.empty()) named_runtime = inner;
      }
      // No frame of the user's: Node's own innermost function (a script of its own), else V8's.
      const bool user = site != path.size();
      if (!user) site = named_runtime != path.size() ? named_runtime : 0;
      entry.site = site;
      entry.retained_bytes = self;
      const int64_t id =
          node.contains("id") && node["id"].is_number_integer() ? node["id"].get<int64_t>() : -1;
      if (auto found = by_node.find(id); found != by_node.end()) {
        entry.samples = found->second.samples;
        entry.retained_count = found->second.objects;
      }
      sums.bytes += self;
      if (!user) sums.runtime_site_bytes += self;
      entries.push_back(std::move(entry));
    }
    if (node.contains("children")) {
      if (!node["children"].is_array()) return Error{"heap profile: \"children\" is not a list", 0};
      for (auto it = node["children"].rbegin(); it != node["children"].rend(); ++it)
        pending.push_back({&*it, item.depth + 1});
    }
  }
  if (totals) *totals = sums;
  return entries;
}

}  // namespace memvisor::nodejs
