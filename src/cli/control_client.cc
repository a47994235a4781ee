#include "cli/control_client.h"

#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>

#include "os/unix_stream.h"

namespace memvisor {

Result<nlohmann::json> control_request(const std::string& state_dir, const nlohmann::json& request,
                                       std::chrono::seconds reply_timeout,
                                       std::chrono::milliseconds connect_retry) {
  const std::string path = state_dir + "/control.sock";
  auto deadline = std::chrono::steady_clock::now() + connect_retry;
  Result<UniqueFd> connected = Error{""};
  for (;;) {
    connected = connect_unix(path);
    if (connected || std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  if (!connected) {
    return Error{"no memvisor answers at " + path +
                 " (is it running with this --state-dir?): " + connected.error().describe()};
  }
  const int fd = connected->get();
  timeval timeout{static_cast<time_t>(reply_timeout.count()), 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  if (Status sent = write_all(fd, request.dump() + "\n"); !sent) return sent.error();

  std::string reply;
  char buffer[4096];
  while (reply.find('\n') == std::string::npos) {
    const ssize_t n = ::read(fd, buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    // The supervisor answers; one that is stuck is killed and restarted by the controller (its
    // hang check), which closes this connection. Either way the request may still be carried
    // out: a lifecycle request the controller had taken before, or one it takes once it runs.
    const std::string unsure =
        " (it may be hung: the controller restarts a hung supervisor within seconds; a request "
        "it had taken may still be carried out, see memvisor events)";
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return Error{"no reply from memvisor within " + std::to_string(reply_timeout.count()) + " s" +
                   unsure};
    }
    if (n < 0 && errno == ECONNRESET) {
      return Error{"memvisor's supervisor dropped the connection without a reply" + unsure};
    }
    if (n < 0) return Error::from_errno("read the reply from " + path);
    if (n == 0) return Error{"memvisor closed the control connection without a reply" + unsure};
    reply.append(buffer, static_cast<size_t>(n));
  }
  reply.resize(reply.find('\n'));
  auto json = nlohmann::json::parse(reply, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded() || !json.is_object()) return Error{"malformed reply from memvisor"};
  return json;
}

}  // namespace memvisor
