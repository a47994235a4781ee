// libFuzzer target: HTTP as memvisor meets it. The first line is taken as a request line
// ("METHOD PATH VERSION") and routed as the /metrics endpoint routes it (libmicrohttpd, which
// splits it, is fuzzed upstream); the rest as the head of a response from a Node worker's
// inspector, which memvisor parses itself; the whole input as a configured http:// URL.
#include "core/config/http_url.h"
#include "core/observe/http_route.h"
#include "fuzz_input.h"
#include "runtimes/node/http_head.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace memvisor;
  const std::string_view text = fuzz::as_text(data, size);
  const size_t line_end = text.find("\r\n");
  const std::string_view request_line = text.substr(0, line_end);
  const size_t space = request_line.find(' ');
  const std::string_view method = request_line.substr(0, space);
  std::string_view path =
      space == std::string_view::npos ? std::string_view{} : request_line.substr(space + 1);
  path = path.substr(0, path.find(' '));
  const HttpRoute route = http_route(method, path);
  if (route != HttpRoute::method_not_allowed && method != "GET" && method != "HEAD") {
    __builtin_trap();
  }

  const std::string_view response =
      line_end == std::string_view::npos ? std::string_view{} : text.substr(line_end + 2);
  const size_t head_end = nodejs::http_head_end(response);
  if (head_end != std::string_view::npos && head_end > response.size()) __builtin_trap();
  if (auto head = nodejs::parse_http_head(response.substr(0, head_end))) {
    (void)head->header("content-length");
  }
  (void)parse_http_url(text);
  return 0;
}
