#include "client/worker_link.h"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <nlohmann/json.hpp>
#include <thread>

#include "client/memory_info.h"

namespace memvisor::client {
namespace {

constexpr int kProtocolVersion = 1;

int connect_nonblocking(const std::string& path) {
  sockaddr_un addr{};
  if (path.empty() || path.size() >= sizeof addr.sun_path) return -1;
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.data(), path.size());
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  // A Unix stream connect completes at once or fails (EAGAIN: the backlog is full; retry later).
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

WorkerLink::WorkerLink(LinkOptions options)
    : options_(std::move(options)),
      random_(static_cast<unsigned>(::getpid()) ^
              static_cast<unsigned>(Clock::now().time_since_epoch().count())) {}

bool WorkerLink::start() {
  const int wake = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (wake < 0) return false;
  wake_fd_.store(wake);
  // The thread must never take a signal meant for the worker (its handlers, sigwait, Ctrl-C).
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  bool started = true;
  try {
    std::thread([this] { run(); }).detach();
  } catch (...) {
    started = false;
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  return started;
}

void WorkerLink::ready() {
  {
    std::lock_guard lock(mutex_);
    ready_ = true;
  }
  wake();
}

void WorkerLink::status(std::string_view text) {
  {
    std::lock_guard lock(mutex_);
    status_ = std::string(text.substr(0, 1024));
    ++status_generation_;
  }
  wake();
}

namespace {

// As the supervisor's valid_gauge_name (the library does not link memvisor's core).
bool gauge_name_ok(std::string_view name) {
  if (name.empty() || name.size() > 128) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    const char c = name[i];
    const bool letter = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!letter && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

}  // namespace

bool WorkerLink::gauge(std::string_view name, double value) {
  if (!gauge_name_ok(name) || !std::isfinite(value)) return false;
  {
    std::lock_guard lock(mutex_);
    auto found = gauges_.find(name);
    if (found == gauges_.end()) {
      if (gauges_.size() >= kMaxGauges) return false;
      found = gauges_.emplace(std::string(name), Gauge{}).first;
    }
    found->second = {value, true};
    if (gauges_unsent_) return true;  // the thread was already woken for an earlier one
    gauges_unsent_ = true;
  }
  wake();
  return true;
}

void WorkerLink::wake() noexcept {
  const int fd = wake_fd_.load();
  if (fd < 0) return;
  const uint64_t one = 1;
  [[maybe_unused]] const ssize_t ignored = ::write(fd, &one, sizeof one);
}

void WorkerLink::drain_wake() noexcept {
  uint64_t value = 0;
  [[maybe_unused]] const ssize_t ignored = ::read(wake_fd_.load(), &value, sizeof value);
}

void WorkerLink::close_after_fork() noexcept {
  for (std::atomic<int>* fd : {&socket_fd_, &wake_fd_}) {
    const int old = fd->exchange(-1);
    if (old >= 0) ::close(old);
  }
  registered_.store(false);
}

std::chrono::milliseconds WorkerLink::next_backoff() {
  // Exponential, capped, with "equal jitter": half fixed, half random, so a pool of workers does
  // not reconnect in lockstep when the supervisor comes back.
  const auto base = options_.backoff_min.count() << std::min(failures_, 16);
  const auto capped = std::min<int64_t>(base, options_.backoff_max.count());
  ++failures_;
  std::uniform_int_distribution<int64_t> half(0, capped / 2);
  return std::chrono::milliseconds(capped - capped / 2 + half(random_));
}

bool WorkerLink::connect_once() {
  const int fd = connect_nonblocking(options_.socket_path);
  if (fd < 0) return false;
  socket_fd_.store(fd);
  in_.clear();
  out_.clear();
  // A new supervisor knows nothing: everything is said again, the count as a running total.
  sent_ready_ = false;
  sent_status_generation_ = 0;
  requests_unsent_ = true;
  last_requests_at_ = {};
  {
    std::lock_guard lock(mutex_);
    for (auto& [name, gauge] : gauges_) gauge.unsent = true;
    gauges_unsent_ = !gauges_.empty();
  }
  nlohmann::json hello = {{"type", "hello"},
                          {"version", kProtocolVersion},
                          {"pid", ::getpid()},
                          {"library", "memvisor-worker"}};
  out_ += hello.dump() + "\n";
  return true;
}

void WorkerLink::disconnect() {
  const int fd = socket_fd_.exchange(-1);
  if (fd >= 0) ::close(fd);
  registered_.store(false);
  in_.clear();
  out_.clear();
}

void WorkerLink::queue_updates(Clock::time_point now) {
  {
    std::lock_guard lock(mutex_);
    if (ready_ && !sent_ready_) {
      out_ += R"({"type":"ready"})"
              "\n";
      sent_ready_ = true;
    }
    if (status_generation_ != sent_status_generation_) {
      out_ += nlohmann::json{{"type", "status"}, {"text", status_}}.dump(
                  -1, ' ', false, nlohmann::json::error_handler_t::replace) +
              "\n";
      sent_status_generation_ = status_generation_;
    }
    if (gauges_unsent_) {
      for (auto& [name, gauge] : gauges_) {
        if (!gauge.unsent) continue;
        out_ +=
            nlohmann::json{{"type", "gauge"}, {"name", name}, {"value", gauge.value}}.dump() + "\n";
        gauge.unsent = false;
      }
      gauges_unsent_ = false;
    }
  }
  const uint64_t total = requests_.load();
  if ((requests_unsent_ || total != sent_requests_) &&
      now - last_requests_at_ >= options_.flush_interval) {
    out_ += nlohmann::json{{"type", "requests"}, {"total", total}}.dump() + "\n";
    sent_requests_ = total;
    requests_unsent_ = false;
    last_requests_at_ = now;
  }
}

bool WorkerLink::flush_output() {
  while (!out_.empty()) {
    const ssize_t n = ::send(socket_fd_.load(), out_.data(), out_.size(), MSG_NOSIGNAL);
    if (n > 0) {
      out_.erase(0, static_cast<size_t>(n));
    } else if (n < 0 && errno == EINTR) {
      continue;
    } else if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return out_.size() <= options_.max_queued;
    } else {
      return false;
    }
  }
  return true;
}

bool WorkerLink::read_input() {
  char buffer[16384];
  for (;;) {
    const ssize_t n = ::recv(socket_fd_.load(), buffer, sizeof buffer, 0);
    if (n == 0) return false;  // the supervisor is gone
    if (n < 0) return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
    in_.append(buffer, static_cast<size_t>(n));
    size_t start = 0;
    for (size_t end; (end = in_.find('\n', start)) != std::string::npos; start = end + 1) {
      handle_line(std::string_view(in_).substr(start, end - start));
    }
    in_.erase(0, start);
    if (in_.size() > options_.max_line) return false;
  }
}

void WorkerLink::handle_line(std::string_view line) {
  const auto message = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
  if (!message.is_object()) return;
  const std::string type = message.value("type", "");
  if (type == "welcome") {
    registered_.store(true);
    failures_ = 0;  // a supervisor that accepts us resets the backoff; one that refuses does not
    return;
  }
  if (type != "request") return;
  nlohmann::json reply = {{"type", "reply"}, {"id", message.value("id", nlohmann::json())}};
  const std::string cmd = message.value("cmd", "");
  if (cmd == "memory_info") {
    reply["ok"] = true;
    reply["memory_info"] = memory_info();
  } else {
    reply["ok"] = false;
    reply["error"] = "unknown command '" + cmd + "'";
  }
  out_ += reply.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

void WorkerLink::run() {
  for (;;) {
    if (socket_fd_.load() < 0) {
      if (!connect_once()) {
        pollfd wait{wake_fd_.load(), POLLIN, 0};
        (void)::poll(&wait, 1, static_cast<int>(next_backoff().count()));
        drain_wake();
        continue;
      }
    }
    const auto now = Clock::now();
    try {
      queue_updates(now);
    } catch (...) {  // out of memory: drop this connection, the next one says it all again
      disconnect();
      continue;
    }
    if (!flush_output()) {
      disconnect();
      continue;
    }

    // A count not yet sent needs a deadline; otherwise sleep until woken or the socket speaks.
    int timeout_ms = -1;
    if (requests_.load() != sent_requests_) {
      const auto left = options_.flush_interval - (now - last_requests_at_);
      timeout_ms = static_cast<int>(
          std::max<int64_t>(0, std::chrono::ceil<std::chrono::milliseconds>(left).count()));
    } else {
      sleeping_.store(true);
      if (requests_.load() != sent_requests_) {  // counted between the check and the flag
        sleeping_.store(false);
        timeout_ms = 0;
      }
    }
    pollfd fds[2] = {
        {socket_fd_.load(), static_cast<short>(POLLIN | (out_.empty() ? 0 : POLLOUT)), 0},
        {wake_fd_.load(), POLLIN, 0}};
    const int ready = ::poll(fds, 2, timeout_ms);
    sleeping_.store(false);
    if (ready < 0) continue;
    if (fds[1].revents & POLLIN) drain_wake();
    if (fds[0].revents & (POLLIN | POLLHUP | POLLERR)) {
      bool alive = false;
      try {
        alive = read_input();
      } catch (...) {
      }
      if (!alive) disconnect();
    }
  }
}

}  // namespace memvisor::client
