// epoll dispatch that tolerates callbacks changing the watched set in the middle of a batch.
#include "os/event_loop.h"

#include <cerrno>
#include <climits>
#include <string>
#include <vector>

#include "os/sys_error.h"

namespace memvisor {

Result<EventLoop> EventLoop::create() {
  const int fd = ::epoll_create1(EPOLL_CLOEXEC);
  if (fd < 0) return sys_error("epoll_create1");
  return EventLoop(UniqueFd(fd));
}

Status EventLoop::add(int fd, uint32_t events, Callback callback) {
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) < 0) {
    return sys_error("epoll add fd", std::to_string(fd));
  }
  callbacks_[fd] = std::make_shared<Callback>(std::move(callback));
  return {};
}

Status EventLoop::modify(int fd, uint32_t events) {
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev) < 0) {
    return sys_error("epoll modify fd", std::to_string(fd));
  }
  return {};
}

void EventLoop::remove(int fd) {
  // The fd may already be closed (epoll then forgot it on its own), so failure is not an error.
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
  callbacks_.erase(fd);
}

Result<int> EventLoop::run_once(std::optional<std::chrono::milliseconds> timeout) {
  int timeout_ms = -1;
  if (timeout) {
    const auto count = timeout->count();
    timeout_ms = count <= 0 ? 0 : count >= INT_MAX ? INT_MAX : static_cast<int>(count);
  }
  constexpr int kMaxEvents = 64;
  epoll_event events[kMaxEvents];
  const int n = ::epoll_wait(epoll_.get(), events, kMaxEvents, timeout_ms);
  if (n < 0) {
    if (errno == EINTR) return 0;
    return sys_error("epoll_wait");
  }

  // Pin the registration each event belongs to before running anything: an event whose fd is
  // removed (or removed and re-added with a new callback) by an earlier callback is stale.
  struct Ready {
    int fd;
    uint32_t mask;
    std::shared_ptr<Callback> callback;
  };
  std::vector<Ready> ready;
  ready.reserve(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    auto it = callbacks_.find(events[i].data.fd);
    if (it != callbacks_.end()) ready.push_back({events[i].data.fd, events[i].events, it->second});
  }

  int dispatched = 0;
  for (auto& [fd, mask, callback] : ready) {
    auto it = callbacks_.find(fd);
    if (it == callbacks_.end() || it->second != callback) continue;
    // Our local shared_ptr keeps the std::function alive even if it removes itself.
    (*callback)(mask);
    ++dispatched;
  }
  return dispatched;
}

}  // namespace memvisor
