// From V8's SamplingHeapProfile tree to ProfileEntry stacks.
#include "runtimes/node/node_profile.h"

#include <algorithm>
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

Result<std::vector<ProfileEntry>> entries_from_sampling_profile(const nlohmann::json& profile,
                                                                NodeProfileTotals* totals) {
  if (!profile.is_object() || !profile.contains("head") || !profile["head"].is_object())
    return Error{"heap profile: no \"head\" node", 0};
  std::unordered_map<int64_t, uint64_t> samples_of_node;
  if (profile.contains("samples") && profile["samples"].is_array()) {
    for (const auto& sample : profile["samples"]) {
      if (!sample.is_object() || !sample.contains("nodeId") || !sample.contains("size") ||
          !sample["nodeId"].is_number_integer() || !sample["size"].is_number())
        return Error{"heap profile: a sample without nodeId and size", 0};
      samples_of_node[sample["nodeId"].get<int64_t>()] += 1;
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
      if (auto found = samples_of_node.find(id); found != samples_of_node.end()) {
        entry.samples = found->second;
        entry.retained_count = static_cast<double>(found->second);
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
