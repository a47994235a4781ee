// A service's listening sockets on the OS side: bound and listening once (TCP, unix path, or
// abstract unix), or taken over from memvisor's own service manager (sd_listen_fds' LISTEN_FDS),
// and recognised by address when they are.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "core/config/socket_address.h"
#include "core/result.h"
#include "os/unique_fd.h"

namespace memvisor {

struct ListenOptions {
  int backlog = 0;  // 0: SOMAXCONN
  mode_t mode = 0666;
  std::optional<uid_t> owner;  // unix paths: chown to these before listening
  std::optional<gid_t> group;
};

// Binds and listens, close-on-exec and blocking (the instances own the accept mode). A TCP
// socket sets SO_REUSEADDR, so a restarted memvisor binds while old connections linger; "[::]"
// is dual-stack. A unix path is replaced only when it is a socket nobody listens on; its mode and
// owner are set before listen, so no client ever sees the umask's. Errors name the address:
// "listen on 127.0.0.1:8000: Address already in use".
Result<UniqueFd> open_listen_socket(const SocketAddress& address, const ListenOptions& options);

// Whether `fd` is a listening stream socket bound to `address` (a passed_name never matches).
bool listen_socket_matches(int fd, const SocketAddress& address);

// "USER" or "USER:GROUP" (names or numbers) → uid and gid; the user's own group when none given.
Result<std::pair<uid_t, gid_t>> resolve_socket_owner(const std::string& owner);

// A socket handed to this process by its service manager: fd 3 onwards, with its
// FileDescriptorName ("unknown" when none was given).
struct PassedSocket {
  UniqueFd fd;
  std::string name;
};

// sd_listen_fds(3) for memvisor itself: when LISTEN_PID is this process, takes fds 3 ..
// 3 + LISTEN_FDS - 1 (close-on-exec from now on) and their LISTEN_FDNAMES. The three variables are
// removed from the environment either way, so no worker mistakes them for its own.
std::vector<PassedSocket> take_passed_sockets();

// The pure part, for tests: which fds and names the three values describe for process `self`.
struct PassedFd {
  int fd;
  std::string name;
};
std::vector<PassedFd> parse_passed_fds(const char* listen_pid, const char* listen_fds,
                                       const char* listen_fdnames, pid_t self);

}  // namespace memvisor
