// The head of an HTTP/1.1 response (status line and headers), as the inspector's tiny HTTP server
// sends it for /json/list and for the WebSocket upgrade. Pure text.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace memvisor::nodejs {

struct HttpHead {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased

  // The first header of that (lower-case) name, or "".
  std::string header(std::string_view name) const;
};

// Where the head ends (just past "\r\n\r\n"), or npos while incomplete.
size_t http_head_end(std::string_view response);
// The status line and headers of `head` (the text up to http_head_end); nothing when malformed.
std::optional<HttpHead> parse_http_head(std::string_view head);

}  // namespace memvisor::nodejs
