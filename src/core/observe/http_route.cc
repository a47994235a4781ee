// The endpoint's three paths; everything else is 404 or 405.
#include "core/observe/http_route.h"

namespace memvisor {

HttpRoute http_route(std::string_view method, std::string_view path) {
  if (method != "GET" && method != "HEAD") return HttpRoute::method_not_allowed;
  if (path == "/metrics") return HttpRoute::metrics;
  if (path == "/health") return HttpRoute::health;
  if (path == "/status") return HttpRoute::status;
  return HttpRoute::not_found;
}

}  // namespace memvisor
