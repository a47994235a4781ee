#include "supervisor/http_endpoint.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <unistd.h>

#include <chrono>

#include "core/observe/health.h"
#include "core/observe/http_route.h"
#include "core/observe/metrics_text.h"
#include "core/time_format.h"
#include "supervisor/dashboard_data.h"
#include "supervisor/dashboard_routes.h"

namespace memvisor {
namespace {

HttpResponse text(unsigned status, std::string body) {
  return {status, "text/plain; charset=utf-8", std::move(body)};
}

MHD_Result queue(MHD_Connection* connection, const HttpResponse& answer) {
  MHD_Response* response = MHD_create_response_from_buffer(
      answer.body.size(), const_cast<char*>(answer.body.data()), MHD_RESPMEM_MUST_COPY);
  if (response == nullptr) return MHD_NO;
  MHD_add_response_header(response, "Content-Type", answer.content_type.c_str());
  MHD_add_response_header(response, "Cache-Control", "no-store");
  // The browser takes each answer for what it says it is, and the page for what memvisor serves:
  // no script or style from anywhere else, none inline.
  MHD_add_response_header(response, "X-Content-Type-Options", "nosniff");
  MHD_add_response_header(response, "Content-Security-Policy",
                          answer.csp.empty() ? kDashboardCsp : answer.csp.c_str());
  MHD_add_response_header(response, "Referrer-Policy", "no-referrer");
  const MHD_Result queued = MHD_queue_response(connection, answer.status, response);
  MHD_destroy_response(response);
  return queued;
}

// libmicrohttpd calls this once the request line and headers are in. Only GET and HEAD mean
// anything here; a body is never read, so nothing a client sends is buffered beyond the headers.
MHD_Result on_request(void* self, MHD_Connection* connection, const char* url, const char* method,
                      const char* /*version*/, const char* /*upload_data*/,
                      size_t* /*upload_data_size*/, void** /*request_state*/) {
  const auto* endpoint = static_cast<const HttpEndpoint*>(self);
  if (http_route(method, url) == HttpRoute::method_not_allowed) {
    return queue(connection, text(405, "only GET and HEAD\n"));
  }
  const char* after = MHD_lookup_connection_value(connection, MHD_GET_ARGUMENT_KIND, "after");
  return queue(connection, endpoint->respond(url, after != nullptr ? after : ""));
}

}  // namespace

Result<std::unique_ptr<HttpEndpoint>> HttpEndpoint::start(const ListenAddress& address,
                                                          HttpLimits limits) {
  std::unique_ptr<HttpEndpoint> endpoint(new HttpEndpoint());
  auto clock = read_process_clock();
  if (!clock) return clock.error();
  endpoint->clock_ = *clock;

  sockaddr_storage storage{};
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;
  if (address.ipv6) {
    auto* in6 = reinterpret_cast<sockaddr_in6*>(&storage);
    in6->sin6_family = AF_INET6;
    in6->sin6_port = htons(address.port);
    ::inet_pton(AF_INET6, address.host.c_str(), &in6->sin6_addr);
    flags |= MHD_USE_IPv6;
  } else {
    auto* in4 = reinterpret_cast<sockaddr_in*>(&storage);
    in4->sin_family = AF_INET;
    in4->sin_port = htons(address.port);
    ::inet_pton(AF_INET, address.host.c_str(), &in4->sin_addr);
  }
  // One polling thread serves every connection: a slow or silent client costs a slot and a
  // little memory, never a thread, and the slots, the idle time and the header size are capped.
  endpoint->daemon_ = MHD_start_daemon(
      flags, address.port, nullptr, nullptr, &on_request, endpoint.get(), MHD_OPTION_SOCK_ADDR,
      reinterpret_cast<sockaddr*>(&storage), MHD_OPTION_CONNECTION_LIMIT, limits.connections,
      MHD_OPTION_CONNECTION_TIMEOUT, limits.idle_timeout_s, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
      limits.connection_memory, MHD_OPTION_LISTEN_BACKLOG_SIZE, 128U, MHD_OPTION_END);
  if (endpoint->daemon_ == nullptr) {
    return Error{"cannot serve HTTP on " + to_string(address) +
                 " (address in use, not assigned here, or not permitted)"};
  }
  return endpoint;
}

HttpEndpoint::~HttpEndpoint() {
  if (daemon_ != nullptr) MHD_stop_daemon(daemon_);
}

void HttpEndpoint::publish(std::shared_ptr<const MetricsSnapshot> snapshot) {
  std::lock_guard lock(mutex_);
  snapshot_ = std::move(snapshot);
}

void HttpEndpoint::publish_dashboard(std::shared_ptr<const DashboardData> data) {
  std::lock_guard lock(mutex_);
  dashboard_ = std::move(data);
}

bool HttpEndpoint::series_wanted(std::chrono::steady_clock::duration within) const {
  const int64_t asked = series_asked_ns_.load(std::memory_order_relaxed);
  if (asked == 0) return false;
  const auto now = std::chrono::steady_clock::now().time_since_epoch();
  return now - std::chrono::nanoseconds(asked) <= within;
}

std::shared_ptr<const MetricsSnapshot> HttpEndpoint::current() const {
  std::lock_guard lock(mutex_);
  return snapshot_;
}

std::string HttpEndpoint::render_metrics_now(const MetricsSnapshot* snapshot) const {
  std::vector<ProcessUsage> own;
  // The controller is our parent; its pid comes with the snapshot, getppid() before that.
  const pid_t controller =
      snapshot != nullptr && snapshot->controller_pid > 0 ? snapshot->controller_pid : ::getppid();
  if (auto usage = read_process_usage(controller, clock_, "controller")) own.push_back(*usage);
  if (auto usage = read_process_usage(::getpid(), clock_, "supervisor")) own.push_back(*usage);
  static const MetricsSnapshot kEmpty;
  return render_metrics(snapshot != nullptr ? *snapshot : kEmpty,
                        to_unix_seconds(std::chrono::system_clock::now()), own);
}

HttpResponse HttpEndpoint::respond(const std::string& path, std::string_view after) const {
  const std::shared_ptr<const MetricsSnapshot> snapshot = current();
  if (path == "/api/series") {
    series_asked_ns_.store(std::chrono::duration_cast<std::chrono::nanoseconds>(
                               std::chrono::steady_clock::now().time_since_epoch())
                               .count(),
                           std::memory_order_relaxed);
  }
  std::shared_ptr<const DashboardData> dashboard;
  {
    std::lock_guard lock(mutex_);
    dashboard = dashboard_;
  }
  if (auto answer = dashboard_response(dashboard.get(), path, after)) return std::move(*answer);
  const HttpRoute route = http_route("GET", path);
  if (route == HttpRoute::metrics) {
    return {200, kMetricsContentType, render_metrics_now(snapshot.get())};
  }
  if (route == HttpRoute::health) {
    if (!snapshot) return text(503, "starting: no state from the controller yet\n");
    const HealthVerdict verdict = judge_health(*snapshot);
    return text(verdict.healthy ? 200 : 503, verdict.body);
  }
  if (route == HttpRoute::status) {
    if (!snapshot)
      return {503, "application/json",
              R"({"error":"starting up"})"
              "\n"};
    // Uptime as of this request, not as of the snapshot.
    nlohmann::json status = snapshot->status;
    const double now = to_unix_seconds(std::chrono::system_clock::now());
    for (auto& record : status["instances"]) {
      if (record.contains("uptime_s") && record["started_at"].is_number()) {
        record["uptime_s"] = std::max(0.0, now - record["started_at"].get<double>());
      }
    }
    return {200, "application/json", status.dump(2) + "\n"};
  }
  return text(404, "not found; try /metrics, /health or /status\n");
}

}  // namespace memvisor
