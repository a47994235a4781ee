#include "supervisor/worker_server.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <iostream>

#include "core/protocol/worker_message.h"
#include "core/rules/gauge_store.h"

#include "os/open_files_limit.h"
#include "os/unix_stream.h"

namespace memvisor {
namespace {

constexpr size_t kMaxPendingGauges = 32;  // as GaugeStore::kMaxNames

double worker_steady_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

}  // namespace

WorkerServer::WorkerServer(EventLoop& loop, const FleetState& fleet, RequestsHandler on_requests,
                           std::string proc_root)
    : loop_(loop),
      fleet_(fleet),
      on_requests_(std::move(on_requests)),
      proc_root_(std::move(proc_root)) {}

WorkerServer::~WorkerServer() {
  if (listener_.valid()) loop_.remove(listener_.get());
}

Status WorkerServer::serve(UniqueFd listener, const std::string& path) {
  listener_ = std::move(listener);
  path_ = path;
  // One descriptor per worker process: take the hard limit, keep some for everything else.
  const rlim_t files = raise_open_files_limit(RLIM_INFINITY);
  if (files != RLIM_INFINITY) {
    max_connections_ = std::min<size_t>(kMaxConnections, files > 256 ? files - 128 : 128);
  }
  return loop_.add(listener_.get(), EPOLLIN, [this](uint32_t) { on_accept(); });
}

void WorkerServer::on_accept() {
  for (;;) {
    auto accepted = accept_unix(listener_.get());
    if (!accepted) {
      const int errnum = accepted.error().errnum;
      if (errnum == EMFILE || errnum == ENFILE || errnum == ENOBUFS || errnum == ENOMEM) {
        loop_.remove(listener_.get());
        accept_paused_ = true;
      }
      return;  // EAGAIN, or a transient failure the next readiness retries
    }
    UniqueFd fd = std::move(*accepted);
    auto peer = peer_credentials(fd.get());
    if (!peer || peer->pid <= 0 || connections_.size() >= max_connections_) {
      (void)write_all(fd.get(), R"({"type":"error","error":"refused"})"
                                "\n");
      continue;
    }
    connections_.emplace_back();
    Connection* connection = &connections_.back();
    connection->pid = peer->pid;
    // Lines arrive only from the loop, after this constructor returns.
    connection->channel = std::make_shared<LineChannel>(
        loop_, std::move(fd), LineChannel::Limits{1 << 20, 1 << 20},
        [this, connection](std::string_view line) { on_line(*connection, line); },
        [](std::string_view) {});
    identify(*connection);
  }
}

bool WorkerServer::identify(Connection& connection) {
  if (connection.key) return true;
  if (!fleet_.has_snapshot()) return false;
  // The peer is the instance's process, a member of its process group, or a descendant.
  const auto peer_stat = read_proc_stat(connection.pid, proc_root_);
  if (!peer_stat) return false;
  const FleetProcess* found = nullptr;
  for (const ServiceConfig& service : fleet_.config().services) {
    for (const FleetProcess& process : fleet_.processes(service.name)) {
      if (!process.live()) continue;
      if (process.pid == connection.pid || peer_stat->pgrp == process.pid ||
          is_same_or_descendant(connection.pid, process.pid, proc_root_)) {
        found = &process;
        break;
      }
    }
    if (found != nullptr) break;
  }
  if (found == nullptr) return false;
  connection.key = Key{found->service, found->instance, found->generation};
  connection.channel->send_line(nlohmann::json{{"type", "welcome"},
                                               {"service", std::get<0>(*connection.key)},
                                               {"instance", std::get<1>(*connection.key)},
                                               {"generation", std::get<2>(*connection.key)}}
                                    .dump());
  if (connection.pending_requests) {
    set_requests(connection, *connection.pending_requests);
    connection.pending_requests.reset();
  }
  for (const auto& [name, value] : connection.pending_gauges) {
    if (!on_gauge_) break;
    if (auto refused = on_gauge_(*connection.key, name, value)) gauge_error(connection, *refused);
  }
  connection.pending_gauges.clear();
  return true;
}

void WorkerServer::on_line(Connection& connection, std::string_view line) {
  // Not identified here: a stranger's every line would cost a walk of /proc. A connection is
  // identified on accept and on every fleet change (when its process's start arrives).
  WorkerMessage message = parse_worker_message(line);
  using Kind = WorkerMessage::Kind;
  switch (message.kind) {
    case Kind::hello:
    case Kind::ignored:
      return;
    case Kind::ready:
      connection.ready = true;
      return;
    case Kind::status:
      connection.status = std::move(message.text);
      return;
    case Kind::requests:
      if (connection.key) {
        set_requests(connection, message.total);
      } else {
        connection.pending_requests = message.total;
      }
      return;
    case Kind::gauge:
      return on_gauge(connection, message.text, message.value);
    case Kind::gauge_error:
      return gauge_error(connection, message.text);
    case Kind::reply: {
      auto pending = pending_.find(message.id);
      if (pending == pending_.end() || pending->second.connection != &connection) return;
      ReplyHandler done = std::move(pending->second.done);
      pending_.erase(pending);
      done(message.reply);
      return;
    }
    case Kind::error:
      return send_error(connection, message.text);
  }
}

void WorkerServer::on_gauge(Connection& connection, const std::string& gauge, double value) {
  if (!connection.key) {
    // Before the controller told us of this process: the latest per name, bounded.
    if (connection.pending_gauges.size() < kMaxPendingGauges ||
        connection.pending_gauges.contains(gauge)) {
      connection.pending_gauges[gauge] = value;
    } else {
      gauge_error(connection, "too many gauges: at most 32 names per process");
    }
    return;
  }
  if (!on_gauge_) return;
  if (auto refused = on_gauge_(*connection.key, gauge, value)) gauge_error(connection, *refused);
}

void WorkerServer::gauge_error(Connection& connection, const std::string& why) {
  if (on_gauge_error_) on_gauge_error_(connection.key, connection.pid, why);
  send_error(connection, why);
}

void WorkerServer::send_error(Connection& connection, const std::string& why) {
  const double now = worker_steady_s();
  if (connection.errors_since_s < 0 || now - connection.errors_since_s > kErrorWindow) {
    connection.errors_since_s = now;
    connection.errors_in_window = 0;
  }
  if (++connection.errors_in_window > kErrorsPerWindow) return;
  connection.channel->send_line(nlohmann::json{{"type", "error"}, {"error", why}}.dump(
      -1, ' ', false, nlohmann::json::error_handler_t::replace));
}

void WorkerServer::set_requests(Connection& connection, int64_t total) {
  if (total == connection.requests) return;
  connection.requests = total;
  publish_total(*connection.key);
}

void WorkerServer::publish_total(const Key& key) {
  int64_t total = 0;
  if (auto closed = closed_totals_.find(key); closed != closed_totals_.end())
    total = closed->second;
  for (const Connection& connection : connections_) {
    if (connection.key == key) total += connection.requests;
  }
  if (on_requests_) on_requests_(key, total);
}

void WorkerServer::tick(double now_s) {
  if (accept_paused_ && listener_.valid()) {
    accept_paused_ = !loop_.add(listener_.get(), EPOLLIN, [this](uint32_t) { on_accept(); });
  }
  for (Connection& connection : connections_) {
    if (connection.accepted_s < 0) connection.accepted_s = now_s;
    if (connection.key || !connection.channel || connection.channel->closed()) continue;
    if (identify(connection)) continue;
    if (now_s - connection.accepted_s > kIdentifyTimeout) {
      // Not a process of this fleet (or one that has exited): nothing it says can be attributed.
      connection.channel->send_line(
          R"({"type":"error","error":"not a process of this memvisor's fleet"})");
      connection.channel.reset();  // closes the socket (the reply is best effort)
    }
  }
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second.deadline_s < now_s) {
      ReplyHandler done = std::move(it->second.done);
      it = pending_.erase(it);
      done({{"ok", false}, {"code", "timeout"}, {"error", "the worker did not answer in time"}});
    } else {
      ++it;
    }
  }
}

void WorkerServer::fail_pending(const Connection* connection, const std::string& why) {
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second.connection == connection) {
      ReplyHandler done = std::move(it->second.done);
      it = pending_.erase(it);
      done({{"ok", false}, {"code", "unavailable"}, {"error", why}});
    } else {
      ++it;
    }
  }
}

void WorkerServer::collect() {
  for (auto it = connections_.begin(); it != connections_.end();) {
    if (it->channel && !it->channel->closed()) {
      ++it;
      continue;
    }
    if (it->key) closed_totals_[*it->key] += it->requests;
    fail_pending(&*it, "the worker closed its connection");
    it = connections_.erase(it);
  }
  // A process that is gone takes its count with it.
  std::erase_if(closed_totals_, [&](const auto& entry) {
    for (const FleetProcess& process : fleet_.processes(std::get<0>(entry.first))) {
      if (process.instance == std::get<1>(entry.first) &&
          process.generation == std::get<2>(entry.first) && process.live()) {
        return false;
      }
    }
    return true;
  });
}

nlohmann::json WorkerServer::describe(const Key& key) const {
  int count = 0;
  bool ready = false;
  std::string status;
  for (const Connection& connection : connections_) {
    if (connection.key != key || !connection.channel || connection.channel->closed()) continue;
    ++count;
    ready = ready || connection.ready;
    if (!connection.status.empty()) status = connection.status;
  }
  if (count == 0 && !closed_totals_.contains(key)) return nullptr;
  return {{"connections", count}, {"ready", ready}, {"status", status}};
}

void WorkerServer::ask(const Key& key, nlohmann::json request, double now_s, double timeout_s,
                       ReplyHandler done) {
  // The instance's own process first; a forked child only when it is the only one connected.
  Connection* target = nullptr;
  for (Connection& connection : connections_) {
    if (connection.key != key || !connection.channel || connection.channel->closed()) continue;
    if (target == nullptr) target = &connection;
    for (const FleetProcess& process : fleet_.processes(std::get<0>(key))) {
      if (process.pid == connection.pid) target = &connection;
    }
  }
  if (target == nullptr) {
    done({{"ok", false},
          {"code", "unavailable"},
          {"error", "this instance has no worker-library connection"}});
    return;
  }
  const int64_t id = next_id_++;
  request["type"] = "request";
  request["id"] = id;
  pending_[id] = Pending{target, now_s + timeout_s, std::move(done)};
  target->channel->send_line(request.dump());
}

}  // namespace memvisor
