// The HTTP endpoint: /metrics, /health and /status, served by libmicrohttpd from its own thread.
// The supervisor's loop never waits for it: it publishes an immutable snapshot, the HTTP thread
// renders from whichever snapshot is current.
#pragma once

#include <sys/types.h>

#include <memory>
#include <mutex>
#include <string>

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

struct HttpResponse {
  unsigned status = 200;
  std::string content_type;
  std::string body;
};

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
  // What a GET of `path` answers now (the HTTP thread calls it; tests may too).
  HttpResponse respond(const std::string& path) const;

 private:
  HttpEndpoint() = default;
  std::shared_ptr<const MetricsSnapshot> current() const;
  std::string render_metrics_now(const MetricsSnapshot* snapshot) const;

  mutable std::mutex mutex_;  // guards snapshot_ only: held for a pointer copy, never for I/O
  std::shared_ptr<const MetricsSnapshot> snapshot_;
  ProcessClock clock_;
  MHD_Daemon* daemon_ = nullptr;
};

}  // namespace memvisor
