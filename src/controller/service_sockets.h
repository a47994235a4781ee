// The listening sockets of every service (`listen`): bound once at start, before any instance, or
// taken over from memvisor's own service manager, and held until memvisor exits. Every instance,
// surge replacement and restart gets the same sockets from fd 3, so a service has one accept
// queue that no recycle closes: a connection queued while an old process drains is accepted by
// another, never reset.
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/config/config.h"
#include "core/result.h"
#include "os/listen_socket.h"
#include "os/spawn.h"
#include "os/unique_fd.h"

namespace memvisor {

class ServiceSockets {
 public:
  struct Socket {
    SocketAddress address;
    std::string name;  // LISTEN_FDNAMES: the passed socket's name, or the service's
    UniqueFd fd;
    // A unix path memvisor bound: removed at exit if the file is still this socket's.
    dev_t file_dev = 0;
    ino_t file_ino = 0;
  };

  // Opens every service's `listen`, in config order. A passed socket whose address (or
  // FileDescriptorName, for "fdname:NAME") matches an entry is used instead of binding. `notes`
  // gets a line per socket ("web: listening on 127.0.0.1:8000 (fd 3)") and per passed socket
  // that no entry claimed (closed). Errors name the service and the address.
  static Result<ServiceSockets> open(const Config& config, std::vector<PassedSocket> passed,
                                     std::vector<std::string>& notes);

  ServiceSockets() = default;
  ServiceSockets(ServiceSockets&&) = default;
  ServiceSockets& operator=(ServiceSockets&&) = default;
  ~ServiceSockets();

  // A reload: the sockets `service`'s new `listen` needs that this object does not hold yet for
  // it, bound now so that a reload that cannot bind changes nothing. Errors as open()'s.
  Result<std::vector<Socket>> prepare(const ServiceConfig& service,
                                      std::vector<std::string>& notes) const;
  // Makes the service's sockets its new `listen`, in order: the ones it held for an unchanged
  // address (their accept queues go on), the `prepared` ones for new addresses; the others are
  // closed. An empty `listen` (or a removed service) closes them all.
  void commit(const ServiceConfig& service, std::vector<Socket> prepared);
  void remove(const std::string& service);

  // Puts the service's sockets into `spec` (fd 3 onwards, names); nothing for a service without.
  void hand_to(const std::string& service, SpawnSpec& spec) const;
  const std::vector<Socket>& of(const std::string& service) const;
  // Every held socket's fd, with its service, to watch for a hang-up.
  std::vector<std::pair<std::string, int>> fds() const;
  // The held socket `fd`, and its service's name; nothing when it is not one.
  std::optional<std::pair<std::string, const Socket*>> find(int fd) const;

  // A worker's shutdown(2) on a shared listening socket (WEBrick's stop does it, on every
  // listener) stops it listening, in the kernel, for every instance: connections are refused.
  // listen(2) again restores it in place, with its accept queue's address, while the socket
  // still holds its port; the Error says why not (a unix socket keeps its shutdown for good).
  static Status listen_again(const Socket& socket, int backlog);

 private:
  // Closes a socket; a unix path memvisor bound is removed if the file is still this socket's.
  static void release(Socket& socket);

  std::map<std::string, std::vector<Socket>, std::less<>> sockets_;
};

}  // namespace memvisor
