// A line-oriented, non-blocking stream on an event loop: complete lines in, queued lines out.
// Used for the controller ⇄ supervisor channel and for control-socket clients.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "os/event_loop.h"
#include "os/unique_fd.h"

namespace memvisor {

class LineChannel {
 public:
  using LineHandler = std::function<void(std::string_view line)>;
  // Called once when the peer hangs up, a read or write fails, or a limit is exceeded.
  using CloseHandler = std::function<void(std::string_view why)>;

  struct Limits {
    size_t max_line = 1 << 20;     // a longer incoming line closes the channel
    size_t max_queued = 16 << 20;  // more unsent output than this closes the channel
  };

  // Makes `fd` non-blocking and watches it. Handlers may destroy the channel.
  LineChannel(EventLoop& loop, UniqueFd fd, Limits limits, LineHandler on_line,
              CloseHandler on_close);
  ~LineChannel();
  LineChannel(const LineChannel&) = delete;
  LineChannel& operator=(const LineChannel&) = delete;

  // With a handler, a line longer than max_line is skipped up to its '\n' and the handler called
  // once for it, and the channel stays open; without one, such a line closes the channel.
  void on_too_long(std::function<void()> handler) { on_too_long_ = std::move(handler); }

  // Queues `line` plus '\n' and writes as much as the socket takes now.
  void send_line(std::string_view line);
  bool closed() const { return !fd_.valid(); }
  int fd() const { return fd_.get(); }

 private:
  void on_ready(uint32_t events);
  void read_some();
  void flush();
  void fail(std::string_view why);
  void update_interest();

  EventLoop& loop_;
  UniqueFd fd_;
  Limits limits_;
  LineHandler on_line_;
  CloseHandler on_close_;
  std::function<void()> on_too_long_;
  bool skipping_ = false;  // inside a too-long line, until its '\n'
  std::string in_;
  std::string out_;
  bool want_write_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace memvisor
