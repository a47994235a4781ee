// The dashboard page's files (web/: HTML, CSS, JS and uPlot), compiled into the binary by
// cmake/embed_web_assets.cmake, so an install serves the page with nothing else on disk.
#pragma once

#include <span>
#include <string_view>

namespace memvisor {

struct WebAsset {
  std::string_view path;          // "/", "/dashboard.js", ...
  std::string_view content_type;  // "text/html; charset=utf-8", ...
  std::string_view body;
};

// Every embedded file (generated web_assets.cc).
std::span<const WebAsset> web_assets();

}  // namespace memvisor
