#include "controller/service_sockets.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "core/config/config_validate.h"

namespace memvisor {
namespace {

// The passed socket an entry takes over, if any: by name for "fdname:NAME", else by address.
std::vector<PassedSocket>::iterator find_passed(std::vector<PassedSocket>& passed,
                                                const SocketAddress& address) {
  return std::find_if(passed.begin(), passed.end(), [&](const PassedSocket& socket) {
    if (!socket.fd.valid()) return false;
    if (address.kind == SocketAddress::Kind::passed_name) return socket.name == address.name;
    return listen_socket_matches(socket.fd.get(), address);
  });
}

Result<ListenOptions> options_of(const ServiceConfig& service) {
  ListenOptions options;
  options.backlog = service.listen_backlog;
  options.mode = static_cast<mode_t>(service.listen_mode);
  if (!service.listen_owner.empty()) {
    auto owner = resolve_socket_owner(service.listen_owner);
    if (!owner) {
      return Error{
          fmt::format("{}.listen_owner: {}", service_path(service.name), owner.error().describe())};
    }
    options.owner = owner->first;
    options.group = owner->second;
  }
  return options;
}

}  // namespace

Result<ServiceSockets> ServiceSockets::open(const Config& config, std::vector<PassedSocket> passed,
                                            std::vector<std::string>& notes) {
  ServiceSockets result;
  for (const ServiceConfig& service : config.services) {
    if (service.listen.empty()) continue;
    auto options = options_of(service);
    if (!options) return options.error();
    std::vector<Socket>& sockets = result.sockets_[service.name];
    for (const SocketAddress& address : service.listen) {
      Socket socket;
      socket.address = address;
      socket.name = service.name;
      const auto found = find_passed(passed, address);
      const bool taken_over = found != passed.end();
      if (taken_over) {
        socket.fd = std::move(found->fd);
        socket.name = found->name;
      } else {
        auto fd = open_listen_socket(address, *options);
        if (!fd) return Error{fmt::format("service {}: {}", service.name, fd.error().describe())};
        socket.fd = std::move(*fd);
        struct stat st {};
        if (address.kind == SocketAddress::Kind::unix_path &&
            ::stat(address.name.c_str(), &st) == 0) {
          socket.file_dev = st.st_dev;
          socket.file_ino = st.st_ino;
        }
      }
      notes.push_back(fmt::format("{}: listening on {} (fd {} in each instance{})", service.name,
                                  to_string(address), 3 + sockets.size(),
                                  taken_over ? ", passed to memvisor as " + socket.name : ""));
      sockets.push_back(std::move(socket));
    }
  }
  for (const PassedSocket& socket : passed) {
    if (!socket.fd.valid()) continue;
    notes.push_back(fmt::format(
        "a socket passed to memvisor (fd {}, name {}) matches no service's listen; closed",
        socket.fd.get(), socket.name));
  }
  return result;
}

ServiceSockets::~ServiceSockets() {
  for (const auto& [service, sockets] : sockets_) {
    for (const Socket& socket : sockets) {
      if (socket.file_ino == 0) continue;
      // Only our own file: a later memvisor may have replaced it with its socket.
      struct stat st {};
      if (::stat(socket.address.name.c_str(), &st) == 0 && st.st_dev == socket.file_dev &&
          st.st_ino == socket.file_ino) {
        ::unlink(socket.address.name.c_str());
      }
    }
  }
}

void ServiceSockets::hand_to(const std::string& service, SpawnSpec& spec) const {
  for (const Socket& socket : of(service)) {
    spec.listen_fds.push_back(socket.fd.get());
    spec.listen_fd_names.push_back(socket.name);
  }
}

const std::vector<ServiceSockets::Socket>& ServiceSockets::of(const std::string& service) const {
  static const std::vector<Socket> kNone;
  auto it = sockets_.find(service);
  return it == sockets_.end() ? kNone : it->second;
}

}  // namespace memvisor
