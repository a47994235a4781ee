// The supervisor's use of worker-library connections: the socket named in MEMVISOR_SOCKET, request
// counts into the requests rule, worker fields in status, and `memory_info` from a worker.
#include <fcntl.h>

#include <fmt/format.h>

#include <charconv>
#include <chrono>

#include "os/log_sink.h"
#include "supervisor/supervisor.h"

namespace memvisor {
namespace {

double steady_now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

constexpr double kMemoryInfoTimeout = 10;  // seconds

}  // namespace

void Supervisor::listen_for_workers() {
  if (workers_ || options_.worker_fd < 0) return;
  workers_ = std::make_unique<WorkerServer>(
      *loop_, fleet_,
      [this](const WorkerServer::Key& key, int64_t total) { on_worker_requests(key, total); });
  workers_->on_gauges(
      [this](const WorkerServer::Key& key, std::string_view name,
             double value) -> std::optional<std::string> {
        if (memory_.gauge_full(key, name)) {
          return fmt::format("too many gauges: at most {} names per process",
                             MemoryWatch::kMaxGauges);
        }
        memory_.on_gauge(key, name, value, steady_now_s());
        return std::nullopt;
      },
      [this](const std::optional<WorkerServer::Key>& key, pid_t pid, const std::string& why) {
        on_gauge_rejected(key, pid, why);
      });
  UniqueFd listener(options_.worker_fd);
  options_.worker_fd = -1;
  ::fcntl(listener.get(), F_SETFD, FD_CLOEXEC);  // the stack tools we run must not inherit it
  if (Status serving = workers_->serve(std::move(listener), options_.state_dir + "/worker.sock");
      !serving) {
    log_message(LogLevel::warning, "supervisor: no worker socket, request counts are off: " +
                                       serving.error().describe());
  }
}

void Supervisor::tick_workers() {
  if (workers_) workers_->tick(steady_now_s());
  // The control socket, paused by on_accept when descriptors ran out, listens again.
  if (control_accept_paused_ && control_listener_.valid()) {
    control_accept_paused_ =
        !loop_->add(control_listener_.get(), EPOLLIN, [this](uint32_t) { on_accept(); });
  }
}

void Supervisor::on_worker_requests(const WorkerServer::Key& key, int64_t total) {
  for (const RuleAction& action :
       memory_.set_requests(key, total, std::chrono::system_clock::now(), fleet_)) {
    act(action);
  }
}

void Supervisor::on_gauge_rejected(const std::optional<WorkerServer::Key>& key, pid_t pid,
                                   const std::string& why) {
  const double now = steady_now_s();
  // Forget processes quiet for a window, so the map holds only current offenders.
  std::erase_if(gauge_rejections_, [&](const auto& entry) {
    return entry.first != pid && now - entry.second.logged_at_s > kGaugeEventWindow;
  });
  auto [entry, first] = gauge_rejections_.try_emplace(pid);
  if (!first && now - entry->second.logged_at_s <= kGaugeEventWindow) {
    ++entry->second.suppressed;
    return;
  }
  nlohmann::json event = {{"event", "gauge_rejected"}, {"pid", pid}, {"error", why}};
  if (key) {
    event["service"] = std::get<0>(*key);
    event["instance"] = std::get<1>(*key);
    event["generation"] = std::get<2>(*key);
  }
  // Rejections since the last event of this process that had none of their own.
  event["suppressed"] = entry->second.suppressed;
  entry->second = {now, 0};
  log_event(event);
}

void Supervisor::add_worker_fields(nlohmann::json& record) const {
  const MemoryWatch::Key key{record.value("service", ""), record.value("instance", 0),
                             record.value("generation", 0)};
  record["requests"] = memory_.requests(key);
  if (const ProcessRules* rules = memory_.rules(key); rules != nullptr && rules->requests_limit()) {
    record["requests_limit"] = *rules->requests_limit();
  }
  record["worker"] = workers_ ? workers_->describe(key) : nlohmann::json();
  nlohmann::json gauges = nlohmann::json::object();
  if (const GaugeStore* store = memory_.gauges(key); store != nullptr) {
    for (const auto& [name, gauge] : store->all()) gauges[name] = gauge.value;
  }
  record["gauges"] = std::move(gauges);
  if (auto waiting = memory_.waiting(key); !waiting.empty()) record["rules_waiting"] = waiting;
}

std::optional<nlohmann::json> Supervisor::ask_memory_info(
    const ControlRequest& request, const std::shared_ptr<LineChannel>& client) {
  // The primary process of the instance.
  const std::string& service = request.target.service;
  const int number = request.target.instance;
  const std::string target = fmt::format("{}.{}", service, number);
  std::optional<WorkerServer::Key> key;
  for (const FleetProcess& process : fleet_.processes(service)) {
    if (process.instance == number && process.primary) {
      key = WorkerServer::Key{service, number, process.generation};
    }
  }
  if (!key) return error_reply({request.id, "not_found", fmt::format("no instance {}", target)});
  if (!workers_) return error_reply({request.id, "unavailable", "no worker socket"});
  std::weak_ptr<LineChannel> weak = client;
  const nlohmann::json id = request.id;
  workers_->ask(
      *key, {{"cmd", "memory_info"}}, steady_now_s(), kMemoryInfoTimeout,
      [weak, id](const nlohmann::json& reply) {
        auto channel = weak.lock();
        if (!channel) return;
        // The reply is the worker's: trust none of its types.
        const auto ok = reply.find("ok");
        nlohmann::json answer = {{"ok", ok != reply.end() && ok->is_boolean() && ok->get<bool>()}};
        if (reply.contains("memory_info")) answer["memory_info"] = reply["memory_info"];
        if (reply.contains("error")) answer["error"] = reply["error"];
        if (!id.is_null()) answer["id"] = id;
        channel->send_line(answer.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
      });
  return std::nullopt;
}

}  // namespace memvisor
