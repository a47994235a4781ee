// What an HTTP request to the supervisor's endpoint asks for, from its method and path alone:
// the pure part of request handling (libmicrohttpd parses the request line and headers; this
// decides what they mean), so the fuzz target can feed it arbitrary bytes.
#pragma once

#include <string_view>

namespace memvisor {

enum class HttpRoute { metrics, health, status, not_found, method_not_allowed };

// Only GET and HEAD mean anything; paths match exactly (a query string is not part of `path`).
HttpRoute http_route(std::string_view method, std::string_view path);

}  // namespace memvisor
