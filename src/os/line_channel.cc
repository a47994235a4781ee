#include "os/line_channel.h"

#include <fcntl.h>
#include <sys/socket.h>

#include <cerrno>

namespace memvisor {

LineChannel::LineChannel(EventLoop& loop, UniqueFd fd, Limits limits, LineHandler on_line,
                         CloseHandler on_close)
    : loop_(loop),
      fd_(std::move(fd)),
      limits_(limits),
      on_line_(std::move(on_line)),
      on_close_(std::move(on_close)) {
  const int flags = fcntl(fd_.get(), F_GETFL);
  if (flags >= 0) fcntl(fd_.get(), F_SETFL, flags | O_NONBLOCK);
  if (!loop_.add(fd_.get(), EPOLLIN | EPOLLRDHUP, [this](uint32_t events) { on_ready(events); })) {
    fd_.reset();
  }
}

LineChannel::~LineChannel() {
  *alive_ = false;
  if (fd_.valid()) loop_.remove(fd_.get());
}

void LineChannel::send_line(std::string_view line) {
  if (closed()) return;
  out_.append(line);
  out_.push_back('\n');
  if (out_.size() > limits_.max_queued) return fail("peer is not reading (output queue full)");
  flush();
}

void LineChannel::on_ready(uint32_t events) {
  const auto alive = alive_;
  if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) read_some();
  if (!*alive || closed()) return;
  if (events & EPOLLOUT) flush();
}

void LineChannel::read_some() {
  const auto alive = alive_;
  char buffer[64 * 1024];
  // Bounded: one read per wake-up keeps a chatty peer from starving the rest of the loop.
  const ssize_t n = ::recv(fd_.get(), buffer, sizeof buffer, MSG_DONTWAIT);
  if (n < 0) {
    if (errno == EAGAIN || errno == EINTR) return;
    if (errno == ENOTSOCK) {
      // Not a socket (tests may use pipes): fall back to read.
      const ssize_t r = ::read(fd_.get(), buffer, sizeof buffer);
      if (r <= 0) return fail(r == 0 ? "peer closed the connection" : "read failed");
      in_.append(buffer, static_cast<size_t>(r));
    } else {
      return fail("read failed");
    }
  } else if (n == 0) {
    return fail("peer closed the connection");
  } else {
    in_.append(buffer, static_cast<size_t>(n));
  }

  size_t start = 0;
  for (size_t newline; (newline = in_.find('\n', start)) != std::string::npos;) {
    if (skipping_ || newline - start > limits_.max_line) {
      // The end of a line too long to handle: drop it and say so once.
      const bool was_skipping = skipping_;
      skipping_ = false;
      start = newline + 1;
      if (!was_skipping && !on_too_long_) return fail("line too long");
      if (!was_skipping) on_too_long_();
      if (!*alive || closed()) return;
      continue;
    }
    const std::string line = in_.substr(start, newline - start);
    start = newline + 1;
    on_line_(line);
    if (!*alive || closed()) return;
  }
  in_.erase(0, start);
  if (in_.size() > limits_.max_line) {
    if (!on_too_long_) return fail("line too long");
    // Keep nothing of it: memory stays bounded however long the line goes on.
    in_.clear();
    if (!skipping_) {
      skipping_ = true;
      on_too_long_();
    }
  }
}

void LineChannel::flush() {
  while (!out_.empty()) {
    const ssize_t n = ::send(fd_.get(), out_.data(), out_.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN) break;
      return fail("write failed");
    }
    out_.erase(0, static_cast<size_t>(n));
  }
  update_interest();
}

void LineChannel::update_interest() {
  const bool want_write = !out_.empty();
  if (want_write == want_write_) return;
  want_write_ = want_write;
  (void)loop_.modify(fd_.get(), EPOLLIN | EPOLLRDHUP | (want_write ? EPOLLOUT : 0u));
}

void LineChannel::fail(std::string_view why) {
  if (closed()) return;
  loop_.remove(fd_.get());
  fd_.reset();
  out_.clear();
  on_close_(why);
}

}  // namespace memvisor
