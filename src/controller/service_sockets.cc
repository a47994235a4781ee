#include "controller/service_sockets.h"

#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/socket.h>
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

ServiceSockets::Socket bound_socket(const ServiceConfig& service, const SocketAddress& address,
                                    UniqueFd fd) {
  ServiceSockets::Socket socket;
  socket.address = address;
  socket.name = service.name;
  socket.fd = std::move(fd);
  struct stat st {};
  if (address.kind == SocketAddress::Kind::unix_path && ::stat(address.name.c_str(), &st) == 0) {
    socket.file_dev = st.st_dev;
    socket.file_ino = st.st_ino;
  }
  return socket;
}

Result<ServiceSockets::Socket> bind_socket(const ServiceConfig& service,
                                           const SocketAddress& address,
                                           const ListenOptions& options) {
  auto fd = open_listen_socket(address, options);
  if (!fd) return Error{fmt::format("service {}: {}", service.name, fd.error().describe())};
  return bound_socket(service, address, std::move(*fd));
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
      const auto found = find_passed(passed, address);
      const bool taken_over = found != passed.end();
      if (taken_over) {
        socket.address = address;
        socket.fd = std::move(found->fd);
        socket.name = found->name;
      } else {
        auto bound = bind_socket(service, address, *options);
        if (!bound) return bound.error();
        socket = std::move(*bound);
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
  for (auto& [service, sockets] : sockets_) {
    for (Socket& socket : sockets) release(socket);
  }
}

void ServiceSockets::release(Socket& socket) {
  if (socket.file_ino != 0) {
    // Only our own file: a later memvisor may have replaced it with its socket.
    struct stat st {};
    if (::stat(socket.address.name.c_str(), &st) == 0 && st.st_dev == socket.file_dev &&
        st.st_ino == socket.file_ino) {
      ::unlink(socket.address.name.c_str());
    }
  }
  socket.fd.reset();
}

Result<std::vector<ServiceSockets::Socket>> ServiceSockets::prepare(
    const ServiceConfig& service, std::vector<std::string>& notes) const {
  std::vector<Socket> prepared;
  if (service.listen.empty()) return prepared;
  auto options = options_of(service);
  if (!options) return options.error();
  const std::vector<Socket>& held = of(service.name);
  for (const SocketAddress& address : service.listen) {
    const bool kept = std::any_of(held.begin(), held.end(),
                                  [&](const Socket& socket) { return socket.address == address; });
    if (kept) continue;
    auto bound = bind_socket(service, address, *options);
    if (!bound) {
      for (Socket& socket : prepared) release(socket);
      return bound.error();
    }
    notes.push_back(fmt::format("{}: listening on {} (for the instances started from now on)",
                                service.name, to_string(address)));
    prepared.push_back(std::move(*bound));
  }
  return prepared;
}

void ServiceSockets::commit(const ServiceConfig& service, std::vector<Socket> prepared) {
  std::vector<Socket> held;
  if (auto it = sockets_.find(service.name); it != sockets_.end()) held = std::move(it->second);
  std::vector<Socket> sockets;
  for (const SocketAddress& address : service.listen) {
    for (auto* pool : {&held, &prepared}) {
      auto found = std::find_if(pool->begin(), pool->end(), [&](const Socket& socket) {
        return socket.fd.valid() && socket.address == address;
      });
      if (found == pool->end()) continue;
      sockets.push_back(std::move(*found));
      break;
    }
  }
  for (Socket& socket : held) {
    if (socket.fd.valid()) release(socket);
  }
  for (Socket& socket : prepared) {
    if (socket.fd.valid()) release(socket);
  }
  if (sockets.empty()) {
    sockets_.erase(service.name);
  } else {
    sockets_[service.name] = std::move(sockets);
  }
}

void ServiceSockets::remove(const std::string& service) {
  auto it = sockets_.find(service);
  if (it == sockets_.end()) return;
  for (Socket& socket : it->second) release(socket);
  sockets_.erase(it);
}

void ServiceSockets::hand_to(const std::string& service, SpawnSpec& spec) const {
  for (const Socket& socket : of(service)) {
    spec.listen_fds.push_back(socket.fd.get());
    spec.listen_fd_names.push_back(socket.name);
  }
}

std::vector<std::pair<std::string, int>> ServiceSockets::fds() const {
  std::vector<std::pair<std::string, int>> out;
  for (const auto& [service, sockets] : sockets_) {
    for (const Socket& socket : sockets) out.emplace_back(service, socket.fd.get());
  }
  return out;
}

std::optional<std::pair<std::string, const ServiceSockets::Socket*>> ServiceSockets::find(
    int fd) const {
  for (const auto& [service, sockets] : sockets_) {
    for (const Socket& socket : sockets) {
      if (socket.fd.get() == fd) return std::make_pair(service, &socket);
    }
  }
  return std::nullopt;
}

Status ServiceSockets::listen_again(const Socket& socket, int backlog) {
  if (socket.address.is_unix())
    return Error{"a unix socket that was shut down refuses connections until it is closed", 0};
  // A port given as 0 was the kernel's pick, and the shutdown gave it back: listening again
  // would pick another one, where nobody connects.
  sockaddr_storage bound{};
  socklen_t length = sizeof bound;
  if (::getsockname(socket.fd.get(), reinterpret_cast<sockaddr*>(&bound), &length) != 0)
    return Error::from_errno("getsockname");
  const uint16_t port = bound.ss_family == AF_INET6
                            ? reinterpret_cast<const sockaddr_in6*>(&bound)->sin6_port
                            : reinterpret_cast<const sockaddr_in*>(&bound)->sin_port;
  if (port == 0) return Error{"its port, chosen by the kernel, was released by the shutdown", 0};
  if (::listen(socket.fd.get(), backlog > 0 ? backlog : SOMAXCONN) != 0)
    return Error::from_errno("listen");
  return {};
}

const std::vector<ServiceSockets::Socket>& ServiceSockets::of(const std::string& service) const {
  static const std::vector<Socket> kNone;
  auto it = sockets_.find(service);
  return it == sockets_.end() ? kNone : it->second;
}

}  // namespace memvisor
