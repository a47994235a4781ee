// The dashboard's HTTP routes: the page's embedded files and its JSON endpoints, answered from a
// DashboardData value. Pure but for reading a listed bundle file, so tests call it directly.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "supervisor/dashboard_data.h"
#include "supervisor/http_endpoint.h"

namespace memvisor {

// A bundle file (an SVG chart may be opened on its own): no script at all, a sandboxed origin.
inline constexpr const char* kBundleFileCsp =
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; sandbox";

// Bundle files larger than this answer 413 rather than being read into memory.
inline constexpr size_t kMaxBundleFileBytes = 32 * 1024 * 1024;

// A file name a bundle may hold: letters, digits, '.', '_' and '-', not starting with '.', at
// most 100 bytes (so no '/', no "..", no hidden or temp file).
bool is_bundle_file_name(std::string_view name);

// The answer to GET `path` (the query's `after` for /api/events), or nullopt when the path is not
// the dashboard's. `data` may be null (the supervisor has published nothing yet).
std::optional<HttpResponse> dashboard_response(const DashboardData* data, std::string_view path,
                                               std::string_view after);

}  // namespace memvisor
