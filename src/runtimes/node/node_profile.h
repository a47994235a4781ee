// V8's sampling heap profile (the DevTools protocol's SamplingHeapProfile: a tree of call frames
// with self sizes, and the samples that make them) in memvisor's terms: one ProfileEntry per
// tree node that holds bytes, its ancestry as the stack, its site the innermost frame of the
// user's code. Pure.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "heap_report/runtime_profile.h"

namespace memvisor::nodejs {

// A script URL as V8 names it, as a file: "file:///srv/a%20b.mjs" -> "/srv/a b.mjs"; CommonJS
// paths, "node:internal/timers" and "" stay as they are.
std::string file_of_script_url(std::string_view url);
// The module a frame is charged to: the package under the last node_modules/ ("@scope/name"
// for a scoped one), "node" for Node's own code, "v8" for V8's (no script), else the script's
// file name.
std::string module_of_script_url(std::string_view url);
// Node's and V8's own frames: node: URLs (and internal/ before Node 16), frames without a script
// (builtins such as Array.prototype.push, and V8's "(V8 API)", "(GC)" ... pseudo-frames).
bool is_runtime_frame(std::string_view url);

struct NodeProfileTotals {
  double runtime_site_bytes = 0;  // charged to a frame of Node or V8 (no user frame in the stack)
  double bytes = 0;
};

// `profile`: the "profile" of HeapProfiler.stopSampling's answer. Each entry is retained (the
// profile was taken without the collected objects). Its count is its number of samples: the
// protocol gives each sample's weight (object size times V8's rounded scale), not the object's
// size, and one weight fits sizes a hundred times apart, so objects cannot be counted.
Result<std::vector<ProfileEntry>> entries_from_sampling_profile(
    const nlohmann::json& profile, NodeProfileTotals* totals = nullptr);

}  // namespace memvisor::nodejs
