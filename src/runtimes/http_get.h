// A plain HTTP GET with a deadline and a size bound, for a runtime's own endpoints (a Go worker's
// net/http/pprof, the V8 inspector's /json/list).
#pragma once

#include <cstddef>
#include <string>

#include "core/config/http_url.h"
#include "core/result.h"
#include "core/units.h"

namespace memvisor {

// GET `path` (with its query) on `server`'s host and port. A status other than 200, a body over
// `max_bytes` or no complete answer within `timeout` is an error naming the URL.
Result<std::string> http_get(const HttpUrl& server, const std::string& path, Millis timeout,
                             size_t max_bytes);

}  // namespace memvisor
