// Unix stream sockets: a listening socket with a file mode, peer credentials, a client connect.
#pragma once

#include <sys/types.h>

#include <string>

#include "core/result.h"
#include "os/unique_fd.h"

namespace memvisor {

struct PeerCredentials {
  pid_t pid = 0;
  uid_t uid = 0;
  gid_t gid = 0;
};

// Binds and listens at `path` (a stale socket file is replaced), non-blocking, close-on-exec,
// then chmods it to `mode` (e.g. 0600). `backlog` bounds the connections waiting to be accepted.
Result<UniqueFd> listen_unix(const std::string& path, mode_t mode, int backlog = 64);
// Accepts one connection, non-blocking and close-on-exec; EAGAIN is reported as errnum EAGAIN.
Result<UniqueFd> accept_unix(int listen_fd);
Result<PeerCredentials> peer_credentials(int connected_fd);
// Blocking connect (the fd stays blocking, close-on-exec).
Result<UniqueFd> connect_unix(const std::string& path);

// A connected pair (SOCK_STREAM, close-on-exec on both ends).
Result<std::pair<UniqueFd, UniqueFd>> socket_pair();

// Writes all of `data`, retrying on EINTR and short writes; on a non-blocking fd, waits with poll.
Status write_all(int fd, std::string_view data);

}  // namespace memvisor
