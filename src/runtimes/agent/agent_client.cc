// The agent's socket, read with poll and a deadline; the reply bounded in size.
#include "runtimes/agent/agent_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <thread>

#include "os/unique_fd.h"

namespace memvisor {
namespace {

using AgentClock = std::chrono::steady_clock;

Millis millis_until(AgentClock::time_point deadline) {
  return std::max(Millis(0), std::chrono::duration_cast<Millis>(deadline - AgentClock::now()));
}

// One non-blocking connect: 0 or the errno. A Unix socket whose backlog is full would block a
// plain connect: that is retried until the deadline.
int try_connect(int fd, const sockaddr_un& addr, AgentClock::time_point deadline) {
  for (;;) {
    if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) return 0;
    const int err = errno;
    if (err == EINTR) continue;
    if ((err == EAGAIN || err == EINPROGRESS) && millis_until(deadline) > Millis(0)) {
      std::this_thread::sleep_for(Millis(50));  // the backlog is full: the agent is slow, retry
      continue;
    }
    return err;
  }
}

Result<UniqueFd> connect_agent(const AgentWindowRequest& request, AgentClock::time_point deadline) {
  sockaddr_un addr{};
  if (request.socket_path.size() >= sizeof addr.sun_path)
    return Error{"the agent's socket path is too long for a Unix socket: " + request.socket_path,
                 ENAMETOOLONG};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, request.socket_path.data(), request.socket_path.size());
  bool woken = false;
  AgentClock::time_point give_up{}, resend{};
  for (;;) {
    UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd.valid()) return Error::from_errno("create a unix socket");
    const int err = try_connect(fd.get(), addr, deadline);
    if (err == 0) {
      if (request.expected_pid > 0) {
        ucred cred{};
        socklen_t length = sizeof cred;
        if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &length) == 0 && cred.pid > 0 &&
            cred.pid != request.expected_pid)
          return Error{request.socket_path + " is served by pid " + std::to_string(cred.pid) +
                           ", not by pid " + std::to_string(request.expected_pid),
                       0};
      }
      return fd;
    }
    if ((err == ENOENT || err == ECONNREFUSED) && request.wake) {
      const auto now = AgentClock::now();
      if (woken && now >= give_up)
        return Error{request.wake_failure ? request.wake_failure()
                                          : request.who + " never opened " + request.socket_path,
                     ETIMEDOUT};
      if (!woken || now >= resend) {
        if (Status asked = request.wake(); !asked) return asked.error();
        if (!woken) give_up = std::min(deadline, now + request.wake_wait);
        woken = true;
        resend = now + request.wake_resend;
      }
      std::this_thread::sleep_for(request.wake_poll);  // then one more connect, at least
      continue;
    }
    if (err == ECONNREFUSED)
      return Error{"nothing listens on " + request.socket_path + ": " + request.who +
                       " is gone (the process exited or closed the agent's descriptor; the "
                       "socket is stale)",
                   err};
    if (err == EACCES)
      return Error{"no permission to connect to " + request.socket_path +
                       " (mode 0600): sample as root or as the worker's user",
                   err};
    return Error{"connect to " + request.socket_path, err};
  }
}

Status send_request(int fd, const std::string& line, AgentClock::time_point deadline,
                    const std::string& who) {
  std::string_view rest = line;
  while (!rest.empty()) {
    const ssize_t n = ::send(fd, rest.data(), rest.size(), MSG_NOSIGNAL);
    if (n >= 0) {
      rest.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (errno == EINTR) continue;
    // An agent that accepted and closed at once: the same as one that hangs up before answering
    // (which of the two a client sees depends on timing).
    if (errno == EPIPE || errno == ECONNRESET)
      return Error{who + " hung up without an answer (did the process exit?)", 0};
    if (errno != EAGAIN) return Error::from_errno("send the request to the agent");
    pollfd p{fd, POLLOUT, 0};
    const Millis left = millis_until(deadline);
    if (left <= Millis(0)) return Error{"the agent does not read its request", ETIMEDOUT};
    ::poll(&p, 1, static_cast<int>(left.count()));
  }
  return {};
}

// Lines from the agent, each read with a deadline; the whole reply bounded.
class AgentLineReader {
 public:
  AgentLineReader(int fd, size_t max_bytes) : fd_(fd), max_bytes_(max_bytes) {}

  // The next line, or an error; `tick` is called about every 200 ms while waiting.
  Result<std::string> next(AgentClock::time_point deadline, const std::string& who,
                           const std::function<void()>& tick) {
    for (;;) {
      if (const size_t end = buffer_.find('\n'); end != std::string::npos) {
        std::string line = buffer_.substr(0, end);
        buffer_.erase(0, end + 1);
        return line;
      }
      if (closed_) return Error{who + " hung up without an answer (did the process exit?)", 0};
      const Millis left = millis_until(deadline);
      if (left <= Millis(0)) return Error{who + " did not answer in time", ETIMEDOUT};
      pollfd p{fd_, POLLIN, 0};
      const int ready = ::poll(&p, 1, static_cast<int>(std::min(left, Millis(200)).count()));
      if (ready < 0 && errno != EINTR) return Error::from_errno("wait for " + who);
      if (tick) tick();
      if (ready <= 0) continue;
      char chunk[65536];
      const ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n < 0 && errno != ECONNRESET) {
        if (errno == EINTR || errno == EAGAIN) continue;
        return Error::from_errno("read from " + who);
      }
      if (n <= 0) {  // the end, or a reset: the agent closed with our request unread
        closed_ = true;
        continue;
      }
      total_ += static_cast<size_t>(n);
      if (total_ > max_bytes_)
        return Error{who + " sent more than " + std::to_string(max_bytes_ >> 20) +
                         " MiB: the reply is refused",
                     0};
      buffer_.append(chunk, static_cast<size_t>(n));
    }
  }

 private:
  int fd_;
  size_t max_bytes_;
  size_t total_ = 0;
  bool closed_ = false;
  std::string buffer_;
};

Result<AgentReply> read_reply(AgentLineReader& reader, AgentClock::time_point deadline,
                              const AgentWindowRequest& request,
                              const std::function<void()>& tick) {
  auto line = reader.next(deadline, request.who, tick);
  if (!line) return line.error();
  auto reply = parse_agent_reply(*line);
  if (!reply) return Error{request.who + ": " + reply.error().message, 0};
  if (reply->state == AgentReply::State::error)
    return Error{request.who + " refused: " + reply->error, 0};
  return reply;
}

}  // namespace

Result<RuntimeProfile> run_agent_window(const AgentWindowRequest& request,
                                        const SampleProgress& progress) {
  const auto start = AgentClock::now();
  const auto deadline = start + request.timeout;
  const auto report = [&](const char* state) {
    if (progress) progress(std::chrono::duration_cast<Millis>(AgentClock::now() - start), state);
  };
  report("connecting to the agent");
  auto fd = connect_agent(request, deadline);
  if (!fd) return fd.error();
  if (Status sent = send_request(
          fd->get(), agent_request_line(request.duration, request.frames, request.interval_bytes),
          deadline, request.who);
      !sent)
    return sent.error();
  AgentLineReader reader(fd->get(), request.max_reply);
  auto first = read_reply(reader, std::min(deadline, start + request.first_answer), request,
                          [&] { report("waiting for the agent"); });
  if (!first) {
    if (first.error().errnum == ETIMEDOUT)
      return Error{request.who + " did not answer within " +
                       format_duration(std::min(request.first_answer, request.timeout)) +
                       ": the process may be stopped, or its threads cannot run (uWSGI without "
                       "--enable-threads, a C extension holding the GIL or GVL)",
                   ETIMEDOUT};
    return first.error();
  }
  if (first->state != AgentReply::State::recording)
    return Error{request.who + " answered \"done\" before recording", 0};
  const auto recording_since = AgentClock::now();
  report("recording");
  auto last = read_reply(reader, deadline, request, [&] {
    report(AgentClock::now() - recording_since < request.duration ? "recording"
                                                                  : "building the profile");
  });
  if (!last) {
    if (last.error().errnum == ETIMEDOUT)
      return Error{request.who + " sent no profile within the timeout of " +
                       format_duration(request.timeout) +
                       " (a busy process builds it slowly; try a longer --timeout)",
                   ETIMEDOUT};
    return last.error();
  }
  if (last->state != AgentReply::State::done)
    return Error{request.who + " said \"recording\" twice", 0};
  return std::move(last->profile);
}

}  // namespace memvisor
