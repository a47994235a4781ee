// Readiness and watchdog through systemd's notify protocol: one datagram socket per instance, so
// a message is attributed by the socket it arrives on even when its sender (Debian's
// systemd-notify, say) has exited before we read it.
#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>

#include "controller/controller.h"
#include "core/protocol/notify_protocol.h"
#include "os/log_sink.h"
#include "os/proc.h"

namespace memvisor {

namespace {

// The state dir's file system cannot take a new socket file: full, or gone read-only under us.
bool state_dir_cannot_hold(int errnum) {
  return errnum == EROFS || errnum == ENOSPC || errnum == EDQUOT;
}

}  // namespace

Status Controller::open_notify_socket(Instance& instance) {
  // One socket per process (the generation is in the name), so during a surge recycle the old
  // process and its replacement never share one.
  const std::string name = fmt::format("{}.{}", instance.label(), instance.generation + 1);
  const std::string path = fmt::format("{}/{}", notify_dir(), name);
  auto socket = NotifySocket::bind(path, 0600);
  if (!socket && socket.error().errnum == ENOENT) {
    // The directory went (removed by hand, or a repaired disk mounted again without it): made
    // again, or every start would fail until memvisor restarts.
    Status made = make_notify_dir();
    socket = made ? NotifySocket::bind(path, 0600) : Result<NotifySocket>(made.error());
  }
  if (!socket && state_dir_cannot_hold(socket.error().errnum)) {
    // A replacement must still start, or a full or failing disk would stop every recycle. An
    // abstract socket needs no file; it has no mode either, so anyone in the network namespace
    // may send to it: on_notify's checks of the sender's uid and process tree are what keep a
    // stranger's READY=1 out then.
    const std::string abstract = fmt::format("@memvisor/{}/{}", ::getpid(), name);
    auto fallback = NotifySocket::bind(abstract, 0600);
    if (fallback) {
      if (!told_notify_fallback_) {
        log_message(LogLevel::warning,
                    fmt::format("notify sockets: {}; using abstract sockets (@memvisor/...) "
                                "until the state dir can hold them again",
                                socket.error().describe()));
        told_notify_fallback_ = true;
      }
      socket = std::move(fallback);
    }
  } else if (socket) {
    told_notify_fallback_ = false;
  }
  if (!socket) {
    if (socket.error().errnum == ENAMETOOLONG)
      return Error{socket.error().describe() + " (choose a shorter --state-dir)"};
    return socket.error();
  }
  // A worker running as another user must be able to send to its own socket, and only to it.
  if (auto user = users_.find(instance.service->name);
      user != users_.end() && socket->path()[0] != '@') {
    if (::chown(path.c_str(), user->second.uid, user->second.gid) != 0) {
      return Error::from_errno("chown " + path);
    }
  }
  instance.notify = std::make_unique<NotifySocket>(std::move(*socket));
  Instance* target = &instance;
  return loop_->add(instance.notify->fd(), EPOLLIN,
                    [this, target](uint32_t) { on_notify(*target); });
}

void Controller::close_notify_socket(Instance& instance) {
  if (!instance.notify) return;
  loop_->remove(instance.notify->fd());
  instance.notify.reset();  // unlinks the path
}

void Controller::on_notify(Instance& instance) {
  while (auto message = instance.notify->receive()) {
    if (instance.pid == 0) continue;  // nothing running: a late message from a dead run

    uid_t expected_uid = ::geteuid();
    if (auto user = users_.find(instance.service->name); user != users_.end()) {
      expected_uid = user->second.uid;
    }
    if (message->uid != 0 && message->uid != expected_uid) {
      log_message(LogLevel::warning,
                  fmt::format("{}: ignored notify message from uid {} (expected {})",
                              instance.label(), message->uid, expected_uid));
      continue;
    }
    // A sender that still exists must belong to this instance: its process tree or its group.
    // One that has already exited came through this instance's private socket, as its user.
    if (auto stat = read_proc_stat(message->pid); stat) {
      if (stat->pgrp != instance.pid && !is_same_or_descendant(message->pid, instance.pid)) {
        log_message(LogLevel::warning,
                    fmt::format("{}: ignored notify message from pid {}: not in the instance's "
                                "process tree",
                                instance.label(), message->pid));
        continue;
      }
    }

    const NotifyFields fields = parse_notify_message(message->text);
    if (fields.main_pid && *fields.main_pid != instance.pid) {
      if (is_same_or_descendant(*fields.main_pid, instance.pid))
        instance.main_pid = *fields.main_pid;
    }
    if (fields.status && *fields.status != instance.status_text) {
      instance.status_text = *fields.status;
      if (supervisor_link_) {
        nlohmann::json update = {{"type", "instance"}, {"instance", instance_json(instance)}};
        supervisor_link_->send_line(update.dump());
      }
    }
    if (fields.watchdog) instance.last_watchdog = now();
    if (fields.ready) set_ready(instance);
    if (fields.stopping && instance.state != InstanceState::stopping) {
      emit(make_event("worker_stopping", &instance, "notify", "announced STOPPING=1"), &instance);
    }
  }
}

}  // namespace memvisor
