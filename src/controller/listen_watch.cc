// A shared listening socket shut down by a worker. Every instance of a service accepts from the
// one socket memvisor holds, so a worker that calls shutdown(2) on it (WEBrick does, on every
// listener, when it stops) takes the service's address down for all of them, and for every
// instance started after: connections are refused while each process looks healthy. The kernel
// reports the shutdown as a hang-up on the socket; memvisor listens on it again at once, which
// restores it in place (same address, same fd in every instance), and says so.
#include <fmt/format.h>
#include <sys/epoll.h>

#include "controller/controller.h"
#include "core/config/socket_address.h"

namespace memvisor {

void Controller::watch_sockets() {
  // A lost socket a reload closed (its address left `listen`, or its service went) is lost no
  // more: the service listens on what it holds now.
  for (auto& [service, addresses] : lost_listens_) {
    std::erase_if(addresses, [&, &service = service](const std::string& address) {
      for (const ServiceSockets::Socket& held : sockets_.of(service))
        if (to_string(held.address) == address) return false;
      Event event = make_event("listen_restored", nullptr, "reload",
                               address + " was closed by a reload: no longer lost");
      event.service = service;
      event.extra["address"] = address;
      emit(std::move(event), nullptr);
      return true;
    });
  }
  for (const auto& [service, fd] : sockets_.fds()) {
    // No events asked: a listening socket's readability is its queue, the workers' business.
    // EPOLLHUP comes regardless; one-shot, since it stays until the socket listens again.
    if (loop_->add(fd, EPOLLONESHOT, [this, fd = fd](uint32_t) { on_socket_hangup(fd); })) {
      watched_sockets_.push_back(fd);
    }
  }
}

void Controller::unwatch_sockets() {
  for (int fd : watched_sockets_) loop_->remove(fd);
  watched_sockets_.clear();
}

void Controller::on_socket_hangup(int fd) {
  const auto held = sockets_.find(fd);
  if (!held) return;
  const auto& [service_name, socket] = *held;
  const ServiceConfig* service = options_.config.service(service_name);
  const int backlog = service != nullptr ? service->listen_backlog : 0;
  // The event names its service: the line reads "web: 127.0.0.1:8000 was shut down …".
  const std::string what = fmt::format(
      "{} was shut down by one of its workers (shutdown(2) on the shared listening socket, as "
      "WEBrick does when it stops), refusing connections for every instance",
      to_string(socket->address));
  Event event;
  if (Status again = ServiceSockets::listen_again(*socket, backlog)) {
    event = make_event("listen_restored", nullptr, "shutdown", what + "; listening again");
    (void)loop_->modify(fd, EPOLLONESHOT);
  } else {
    lost_listens_[service_name].push_back(to_string(socket->address));
    event = make_event("listen_lost", nullptr, "shutdown",
                       what + "; it cannot listen again (" + again.error().describe() +
                           "): connections are refused until memvisor restarts");
  }
  event.service = service_name;
  event.extra["address"] = to_string(socket->address);
  emit(std::move(event), nullptr);
}

}  // namespace memvisor
