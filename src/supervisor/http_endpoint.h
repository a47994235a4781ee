// The HTTP endpoint: /metrics, /health, /status and the dashboard (/ and /api/..., see
// dashboard_routes.h), served by libmicrohttpd from its own thread. The supervisor's loop never
// waits for it: it publishes immutable snapshots, the HTTP thread renders from whichever is
// current.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "core/config/listen_address.h"
#include "core/observe/metrics_snapshot.h"
#include "core/result.h"
#include "os/process_usage.h"

struct MHD_Daemon;
struct MHD_Connection;

namespace memvisor {

struct HttpLimits {
  unsigned connections = 256;        // more wait in the listen queue until one closes
  unsigned idle_timeout_s = 10;      // a connection silent this long is closed
  size_t connection_memory = 16384;  // request line + headers; larger requests get 431/413
};

// Every answer's Content-Security-Policy unless it names its own: the dashboard loads nothing from
// outside memvisor and runs no inline script or style.
inline constexpr const char* kDashboardCsp =
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; "
    "frame-ancestors 'none'";

struct HttpResponse {
  HttpResponse() = default;
  // A constructor rather than an aggregate: `{status, type, body}` stays valid, the policy
  // optional, without -Wmissing-field-initializers.
  HttpResponse(unsigned status_code, std::string type, std::string text, std::string policy = {})
      : status(status_code),
        content_type(std::move(type)),
        body(std::move(text)),
        csp(std::move(policy)) {}
  unsigned status = 200;
  std::string content_type;
  std::string body;
  std::string csp;  // empty: kDashboardCsp
};

struct DashboardData;

class HttpEndpoint {
 public:
  // Binds and starts serving. Call after the signals the supervisor handles are blocked: the
  // HTTP thread inherits the mask, so those signals still reach the signalfd.
  static Result<std::unique_ptr<HttpEndpoint>> start(const ListenAddress& address,
                                                     HttpLimits limits = {});
  ~HttpEndpoint();
  HttpEndpoint(const HttpEndpoint&) = delete;
  HttpEndpoint& operator=(const HttpEndpoint&) = delete;

  void publish(std::shared_ptr<const MetricsSnapshot> snapshot);
  void publish_dashboard(std::shared_ptr<const DashboardData> data);
  // What a GET of `path` answers now (the HTTP thread calls it; tests may too). `after`: the
  // query's `after` argument (/api/events).
  HttpResponse respond(const std::string& path, std::string_view after = {}) const;
  // Whether /api/series was asked for in the last `within` (steady clock): the series are built
  // only while a page is watching, so an endpoint nobody looks at costs the rules nothing.
  bool series_wanted(std::chrono::steady_clock::duration within) const;

 private:
  HttpEndpoint() = default;
  std::shared_ptr<const MetricsSnapshot> current() const;
  std::string render_metrics_now(const MetricsSnapshot* snapshot) const;

  mutable std::mutex mutex_;  // guards the snapshots only: held for a pointer copy, never for I/O
  std::shared_ptr<const MetricsSnapshot> snapshot_;
  std::shared_ptr<const DashboardData> dashboard_;
  mutable std::atomic<int64_t> series_asked_ns_{0};  // steady clock; 0: never
  ProcessClock clock_;
  MHD_Daemon* daemon_ = nullptr;
};

}  // namespace memvisor
