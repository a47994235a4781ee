// The supervisor's end of the worker protocol (docs/worker-protocol.md): the socket named in every
// worker's MEMVISOR_SOCKET, one connection per worker process, each attributed by its peer
// credentials to one process of the fleet (the instance's process, its group or a descendant), so
// a worker can never speak for another. Keeps what workers said (ready, status, request totals)
// and routes diagnostics requests to them; gauges go to the supervisor's handler.
#pragma once

#include <sys/types.h>

#include <functional>
#include <list>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>

#include "os/event_loop.h"
#include "os/line_channel.h"
#include "os/proc.h"
#include "os/unique_fd.h"
#include "supervisor/fleet_state.h"

namespace memvisor {

class WorkerServer {
 public:
  using Key = std::tuple<std::string, int, int>;  // service, instance, generation
  // A process's request total changed (the sum over its connections, current and closed).
  using RequestsHandler = std::function<void(const Key& key, int64_t total)>;
  using ReplyHandler = std::function<void(const nlohmann::json& reply)>;
  // A gauge of a process, its name and value checked (valid_gauge_name, finite). Returns an
  // error for the worker (the process has too many gauges), or nothing when it was recorded.
  using GaugeHandler =
      std::function<std::optional<std::string>(const Key& key, std::string_view name, double)>;
  // A gauge line was refused (`why`); the supervisor turns these into rate-limited events. `key`
  // is empty for a connection not attributed yet.
  using GaugeErrorHandler =
      std::function<void(const std::optional<Key>& key, pid_t pid, const std::string& why)>;

  WorkerServer(EventLoop& loop, const FleetState& fleet, RequestsHandler on_requests,
               std::string proc_root = kProcRoot);
  void on_gauges(GaugeHandler on_gauge, GaugeErrorHandler on_error) {
    on_gauge_ = std::move(on_gauge);
    on_gauge_error_ = std::move(on_error);
  }
  ~WorkerServer();
  WorkerServer(const WorkerServer&) = delete;
  WorkerServer& operator=(const WorkerServer&) = delete;

  // Serves `listener`, a listening socket bound at `path` by whoever owns the file (the controller,
  // so the socket exists before the first worker starts and outlives a supervisor restart).
  Status serve(UniqueFd listener, const std::string& path);
  const std::string& path() const { return path_; }

  // Periodic and after fleet changes: attributes connections that arrived before the controller
  // told us about their process, drops those that stay unknown, expires unanswered requests.
  void tick(double now_s);
  // Drops closed connections (outside their callbacks) and totals of processes that are gone.
  void collect();

  // {"connections": N, "ready": bool, "status": "..."} for status; null when never connected.
  nlohmann::json describe(const Key& key) const;
  // Sends `request` (an object with "cmd") to the process's worker; `done` gets its reply, or an
  // error object when there is no connection, it closes, or no answer comes in `timeout_s`.
  void ask(const Key& key, nlohmann::json request, double now_s, double timeout_s,
           ReplyHandler done);

  static constexpr size_t kMaxConnections = 4096;  // and never more than the fd limit allows
  static constexpr double kIdentifyTimeout = 10;   // seconds an unknown peer may stay
  // Error lines a connection gets per kErrorWindow seconds; a flood of bad lines past it is
  // counted, not answered, so a worker that never reads cannot fill our send queue.
  static constexpr int kErrorsPerWindow = 20;
  static constexpr double kErrorWindow = 10;

 private:
  struct Connection {
    std::shared_ptr<LineChannel> channel;
    pid_t pid = 0;
    double accepted_s = -1;  // set on the first tick
    std::optional<Key> key;
    bool ready = false;
    std::string status;
    int64_t requests = 0;
    std::optional<int64_t> pending_requests;  // a total sent before we knew who it was
    // Gauges sent before we knew who it was: the latest per name, at most kMaxGauges names.
    std::map<std::string, double, std::less<>> pending_gauges;
    double errors_since_s = -1;  // start of the current error window (steady seconds)
    int errors_in_window = 0;
  };
  struct Pending {
    Connection* connection;
    double deadline_s;
    ReplyHandler done;
  };

  void on_accept();
  void on_line(Connection& connection, std::string_view line);
  bool identify(Connection& connection);
  void set_requests(Connection& connection, int64_t total);
  void on_gauge(Connection& connection, const std::string& gauge, double value);
  void gauge_error(Connection& connection, const std::string& why);
  // An error line to the worker (a bad line, a refused gauge), at most kErrorsPerWindow of them
  // per kErrorWindow: a flood of bad lines from a worker that never reads cannot fill the queue.
  void send_error(Connection& connection, const std::string& why);
  void publish_total(const Key& key);
  void fail_pending(const Connection* connection, const std::string& why);

  EventLoop& loop_;
  const FleetState& fleet_;
  RequestsHandler on_requests_;
  GaugeHandler on_gauge_;
  GaugeErrorHandler on_gauge_error_;
  std::string proc_root_;
  std::string path_;
  UniqueFd listener_;
  size_t max_connections_ = kMaxConnections;
  // Out of descriptors: the listener leaves the loop until the next tick, rather than waking it
  // again and again for a connection it cannot accept.
  bool accept_paused_ = false;
  std::list<Connection> connections_;
  std::map<Key, int64_t> closed_totals_;  // requests of connections already closed, per process
  std::map<int64_t, Pending> pending_;
  int64_t next_id_ = 1;
};

}  // namespace memvisor
