// A single-threaded epoll loop: file descriptors with callbacks, one deadline, stepped by tests.
#pragma once

#include <sys/epoll.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <unordered_map>

#include "core/result.h"
#include "os/unique_fd.h"

namespace memvisor {

class EventLoop {
 public:
  using Callback = std::function<void(uint32_t epoll_events)>;

  static Result<EventLoop> create();

  // Watch fd (not owned) for `events` (EPOLLIN, ...). A callback may add or remove fds,
  // including its own; removal takes effect at once.
  Status add(int fd, uint32_t events, Callback callback);
  Status modify(int fd, uint32_t events);
  void remove(int fd);

  // Waits at most `timeout` (nullopt: forever) and runs the callbacks of ready fds.
  // Returns false only on a fatal epoll error. EINTR is not an error.
  Result<int> run_once(std::optional<std::chrono::milliseconds> timeout);

 private:
  explicit EventLoop(UniqueFd epoll) : epoll_(std::move(epoll)) {}
  UniqueFd epoll_;
  // shared_ptr so that a callback removing itself does not destroy the running std::function.
  std::unordered_map<int, std::shared_ptr<Callback>> callbacks_;
};

}  // namespace memvisor
