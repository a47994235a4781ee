#include "supervisor/supervisor.h"

#include <unistd.h>

#include <csignal>

#include <set>

#include "os/log_sink.h"
#include "os/unix_stream.h"
#include "supervisor/incident_store.h"

namespace memvisor {

namespace {
constexpr size_t kMaxClients = 64;
}

Result<std::unique_ptr<Supervisor>> Supervisor::create(SupervisorOptions options) {
  std::unique_ptr<Supervisor> supervisor(new Supervisor(std::move(options)));
  if (Status status = supervisor->init(); !status) return status.error();
  return supervisor;
}

Status Supervisor::init() {
  auto loop = EventLoop::create();
  if (!loop) return loop.error();
  loop_.emplace(std::move(*loop));
  auto signals = SignalFd::create({SIGTERM, SIGINT, SIGHUP});
  if (!signals) return signals.error();
  signals_.emplace(std::move(*signals));
  std::signal(SIGPIPE, SIG_IGN);
  if (Status s = loop_->add(signals_->fd(), EPOLLIN,
                            [this](uint32_t) {
                              for (int signal : signals_->read_pending()) {
                                if (signal != SIGHUP) done_ = true;
                              }
                            });
      !s) {
    return s;
  }

  controller_ = std::make_unique<LineChannel>(
      *loop_, UniqueFd(options_.channel_fd), LineChannel::Limits{64 << 20, 16 << 20},
      [this](std::string_view line) { on_controller_line(line); },
      [this](std::string_view) { done_ = true; });  // the controller is gone or stopping us

  auto log = AppendLog::open(options_.state_dir + "/events.jsonl", 0600);
  if (!log) return log.error();
  events_log_.emplace(std::move(*log));
  dashboard_.seed_from_log(options_.state_dir + "/events.jsonl");
  auto timer = TimerFd::create();
  if (!timer) return timer.error();
  sample_timer_.emplace(std::move(*timer));
  if (Status s = loop_->add(sample_timer_->fd(), EPOLLIN, [this](uint32_t) { on_sample_timer(); });
      !s) {
    return s;
  }

  start_monitors();
  load_checkpoint();
  if (Status s = start_kernel_watch(); !s) return s;
  remove_abandoned_bundles(incidents_dir());
  control_path_ = options_.state_dir + "/control.sock";
  auto listener = listen_unix(control_path_, 0600);
  if (!listener) return listener.error();
  control_listener_ = std::move(*listener);
  return loop_->add(control_listener_.get(), EPOLLIN, [this](uint32_t) { on_accept(); });
}

int Supervisor::run() {
  while (!done_) {
    // A snapshot held back (see below) is published when its second is up, if nothing else
    // wakes the loop first.
    std::optional<std::chrono::milliseconds> wait;
    if (state_changed_) {
      wait = std::chrono::duration_cast<std::chrono::milliseconds>(
          std::max(std::chrono::steady_clock::duration::zero(),
                   published_at_ + kPublishEvery - std::chrono::steady_clock::now()));
    }
    if (auto ran = loop_->run_once(wait); !ran) {
      log_message(LogLevel::critical, "supervisor: " + ran.error().describe());
      return 1;
    }
    // Closed clients and written incidents are dropped here, outside their own callbacks.
    clients_.remove_if([](const auto& client) { return client->closed(); });
    // A lifecycle change is published at once; memory figures at most once a second: with a
    // service sampled every 100 ms beside a thousand instances, building the snapshot ten times
    // a second cost more than the sampling itself.
    if (state_changed_ &&
        (publish_now_ || std::chrono::steady_clock::now() - published_at_ >= kPublishEvery)) {
      publish_metrics();
    }
    if (workers_) workers_->collect();
    incidents_.remove_if([](const auto& incident) { return incident->done; });
  }
  ::unlink(control_path_.c_str());
  write_checkpoint_if_due(/*now=*/true);
  // Captures still running are cut short: their tools are killed and reaped.
  incidents_.clear();
  monitors_.reset();
  return exit_code_;
}

void Supervisor::on_controller_line(std::string_view line) {
  auto message = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  // The controller's hang check: answered from the loop, so a stuck loop is what it detects.
  if (!message.is_discarded() && message.value("type", "") == "ping") {
    controller_->send_line(R"({"type":"pong"})");
    return;
  }
  if (!message.is_discarded() && message.value("type", "") == "reply") on_controller_reply(message);
  const bool first = !fleet_.has_snapshot();
  // Before the fleet forgets the process: the bundle reads its retained series.
  if (!message.is_discarded() && message.value("event", "") == "exited" &&
      message.value("reason", "") == "oom_kill") {
    write_oom_kill_incident(message);
  }
  if (!message.is_discarded() && message.value("event", "") == "watchdog_timeout") {
    write_watchdog_incident(message);
  }
  if (!message.is_discarded() && message.value("event", "") == "exited") pressure_after_exit();
  if (message.is_discarded() || !fleet_.apply(message)) {
    log_message(LogLevel::warning, "supervisor: ignored an unexpected message from the controller");
    return;
  }
  state_changed_ = true;
  status_text_.clear();  // a lifecycle change shows in the next `status` at once
  publish_now_ = true;   // and in /metrics
  if (message.value("type", "") == "event") dashboard_.add_event(message);
  if (message.value("type", "") == "config") on_reconfigured();
  // OOM kills a supervisor before this one may not have read (it was hung, or not running): their
  // bundles, from the series the checkpoint kept.
  if (message.value("type", "") == "snapshot") {
    for (const auto& exited : message.value("unbundled_oom_kills", nlohmann::json::array()))
      write_oom_kill_incident(exited);
  }
  if (first && fleet_.has_snapshot()) {
    (void)sample_timer_->arm(std::chrono::steady_clock::now());
    start_http_if_wanted();
    listen_for_workers();
    configure_pressure();
  }
  tick_workers();     // a worker may have connected before the controller told us of its start
  update_monitors();  // a process started or stopped, or a reload changed the monitors
  if (kernel_) {
    for (const MemoryWatch::Key& key :
         kernel_->update(fleet_, message.value("type", "") == "config"))
      look_soon_at(key);
  }
  cut_heap_samples_of_gone_processes();
  if (message.value("event", "") == "recycle_failed") {
    // The rules may ask again for this instance's current process.
    memory_.allow_again(
        MemoryWatch::UnitKey{message.value("service", ""), message.value("instance", 0),
                             message.value("generation", 0), message.value("child", 0)},
        std::chrono::system_clock::now());
  }
}

// After a reload: the rules follow the new config at once, their history kept; a changed
// `http` moves the endpoint (the old one closes first, so the same port can be bound again).
void Supervisor::on_reconfigured() {
  memory_.reconfigure(fleet_.config());
  configure_pressure();
  (void)sample_timer_->arm(std::chrono::steady_clock::now());
  const std::string& wanted = fleet_.config().supervisor.http;
  if (wanted != http_address_) {
    http_.reset();
    http_error_logged_.clear();
    next_http_try_ = {};
    if (wanted.empty())
      log_message(LogLevel::notice, "no longer serving HTTP (supervisor.http removed)");
  }
  start_http_if_wanted();
}

void Supervisor::on_accept() {
  for (;;) {
    auto accepted = accept_unix(control_listener_.get());
    if (!accepted) {
      const int errnum = accepted.error().errnum;
      if (errnum == EAGAIN || errnum == EWOULDBLOCK) return;
      if (errnum == EMFILE || errnum == ENFILE || errnum == ENOBUFS || errnum == ENOMEM) {
        // The pending client stays queued and the socket readable: polling it now would spin
        // (and log) until a descriptor frees. tick_workers() listens again on the next tick.
        if (!control_accept_paused_) {
          log_message(LogLevel::error, "supervisor: " + accepted.error().describe() +
                                           "; not accepting control clients until it frees");
        }
        loop_->remove(control_listener_.get());
        control_accept_paused_ = true;
        return;
      }
      log_message(LogLevel::error, "supervisor: " + accepted.error().describe());
      return;
    }
    UniqueFd fd = std::move(*accepted);
    // Only our own user and root may steer us: the socket mode says so, the credentials prove it.
    auto peer = peer_credentials(fd.get());
    if (!peer || (peer->uid != 0 && peer->uid != ::geteuid())) {
      (void)write_all(fd.get(),
                      R"({"ok":false,"code":"permission_denied","error":"permission denied"})"
                      "\n");
      continue;
    }
    if (clients_.size() >= kMaxClients) {
      (void)write_all(fd.get(),
                      R"({"ok":false,"code":"too_many_clients","error":"too many clients"})"
                      "\n");
      continue;
    }
    // No line can arrive before the constructor returns, so the handler learns its channel after.
    auto self = std::make_shared<std::weak_ptr<LineChannel>>();
    auto client = std::make_shared<LineChannel>(
        *loop_, std::move(fd), LineChannel::Limits{64 << 10, 4 << 20},
        [this, self](std::string_view line) {
          if (auto channel = self->lock()) on_client_line(channel, line);
        },
        [](std::string_view) {});
    // An oversized line is answered and skipped; the connection goes on.
    client->on_too_long([self] {
      if (auto channel = self->lock()) {
        channel->send_line(reply_line(
            error_reply({nullptr, "too_long", "request line longer than 65536 bytes: skipped"})));
      }
    });
    *self = client;
    clients_.push_back(std::move(client));
  }
}

void Supervisor::on_client_line(const std::shared_ptr<LineChannel>& client, std::string_view line) {
  const ParsedControlRequest parsed = parse_control_request(line);
  std::optional<nlohmann::json> reply;
  if (const auto* error = std::get_if<ControlError>(&parsed)) {
    reply = error_reply(*error);
  } else {
    const auto& request = std::get<ControlRequest>(parsed);
    if (request.command == ControlCommand::status && fleet_.has_snapshot()) {
      client->send_line(status_reply_line(request.id));
      return;
    }
    reply = handle_request(request, client);
    if (reply && !request.id.is_null()) (*reply)["id"] = request.id;
  }
  if (reply) client->send_line(reply_line(*reply));
}

nlohmann::json Supervisor::status_json() const {
  const auto now = std::chrono::system_clock::now();
  nlohmann::json status = fleet_.status(now);
  std::set<std::string, std::less<>> prefork;
  for (const ServiceConfig& service : fleet_.config().services) {
    if (service.prefork) prefork.insert(service.name);
  }
  for (auto& record : status["instances"]) {
    record["memory"] = memory_json(record);
    add_worker_fields(record);
    if (auto monitors = monitors_json(record); !monitors.empty()) record["monitors"] = monitors;
    if (prefork.contains(record.value("service", ""))) {
      record["children"] = children_json(record, to_unix_seconds(now));
    }
  }
  status["supervisor_pid"] = ::getpid();
  return status;
}

std::string Supervisor::status_reply_line(const nlohmann::json& id) {
  const auto now = std::chrono::steady_clock::now();
  if (status_text_.empty() || now - status_text_at_ >= std::chrono::seconds(1)) {
    status_text_ = reply_line(status_json());
    status_text_at_ = now;
  }
  // The same line reply_line() would make of {"id", "ok", "status"}: keys in that order.
  std::string line = "{";
  if (!id.is_null()) line += "\"id\":" + reply_line(id) + ",";
  return line + "\"ok\":true,\"status\":" + status_text_ + "}";
}

std::optional<nlohmann::json> Supervisor::handle_request(
    const ControlRequest& request, const std::shared_ptr<LineChannel>& client) {
  switch (request.command) {
    case ControlCommand::ping:
      return nlohmann::json{{"ok", true}};
    case ControlCommand::status: {
      if (!fleet_.has_snapshot()) {
        return error_reply({nullptr, "unavailable", "starting up; try again"});
      }
      return nlohmann::json{{"ok", true}, {"status", status_json()}};
    }
    case ControlCommand::memory_info:
      return ask_memory_info(request, client);
    case ControlCommand::series:
      if (!fleet_.has_snapshot()) {
        return error_reply({nullptr, "unavailable", "starting up; try again"});
      }
      return series_reply(request);
    case ControlCommand::restart:
    case ControlCommand::stop:
    case ControlCommand::start:
      return forward_lifecycle(request, client);
    case ControlCommand::dump:
      return dump_instance(request, client);
    case ControlCommand::reload:
      return forward_reload(request, client);
    case ControlCommand::incidents:
      return nlohmann::json{{"ok", true}, {"incidents", incidents_json(incidents_dir())}};
    case ControlCommand::incident: {
      auto shown = show_incident(incidents_dir(), request.incident);
      if (!shown) return error_reply({nullptr, "not_found", shown.error().describe()});
      nlohmann::json reply = std::move(*shown);
      reply["ok"] = true;
      return reply;
    }
  }
  return error_reply({nullptr, "unknown_command", "unknown command"});
}

}  // namespace memvisor
