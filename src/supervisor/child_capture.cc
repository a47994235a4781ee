#include "supervisor/child_capture.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>

#include "os/spawn.h"

namespace memvisor {

ChildCapture::ChildCapture(EventLoop& loop, ChildCommand command, std::chrono::milliseconds timeout,
                           Done done, size_t max_output)
    : loop_(loop), timeout_(timeout), done_(std::move(done)), max_output_(max_output) {
  started_ = std::chrono::steady_clock::now();
  auto timer = TimerFd::create();
  if (!timer) {
    // Without a timer there is no deadline: do not start a child that could hang.
    pending_note_ = timer.error().describe();
    return;
  }
  timer_.emplace(std::move(*timer));
  if (!loop_.add(timer_->fd(), EPOLLIN, [this](uint32_t) { on_deadline(); })) {
    timer_.reset();
    pending_note_ = "cannot watch a timer";
    return;
  }
  if (command.argv.empty()) {
    pending_note_ = command.unavailable.empty() ? "nothing to run" : command.unavailable;
  } else {
    start(std::move(command));
  }
  // Every outcome, even an immediate one, is delivered from the loop, never from here.
  (void)timer_->arm(pending_note_.empty() ? started_ + timeout_ : started_);
}

void ChildCapture::start(ChildCommand command) {
  for (const std::string& arg : command.argv) command_ += (command_.empty() ? "" : " ") + arg;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    pending_note_ = "pipe failed";
    return;
  }
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  ::fcntl(read_end.get(), F_SETFL, ::fcntl(read_end.get(), F_GETFL) | O_NONBLOCK);
  UniqueFd errors_read;
  UniqueFd errors_write;
  if (command.separate_stderr) {
    if (::pipe2(fds, O_CLOEXEC) != 0) {
      pending_note_ = "pipe failed";
      return;
    }
    errors_read = UniqueFd(fds[0]);
    errors_write = UniqueFd(fds[1]);
    ::fcntl(errors_read.get(), F_SETFL, ::fcntl(errors_read.get(), F_GETFL) | O_NONBLOCK);
  }
  SpawnSpec spec;
  spec.argv = std::move(command.argv);
  spec.env = command.env.empty() ? current_environment() : std::move(command.env);
  spec.cwd = std::move(command.cwd);
  spec.user = std::move(command.user);
  spec.stdout_fd = write_end.get();
  spec.stderr_fd = errors_write.valid() ? errors_write.get() : write_end.get();
  spec.parent_death_signal = SIGKILL;
  sigset_t none;
  sigemptyset(&none);
  spec.child_sigmask = none;  // the supervisor blocks signals for its signalfd
  auto spawned = spawn_process(spec);
  if (!spawned) {
    pending_note_ = spawned.error().describe();
    return;
  }
  write_end.reset();
  errors_write.reset();
  started_child_ = true;
  child_ = spawned->pid;
  pidfd_ = std::move(spawned->pidfd);
  output_ = std::move(read_end);
  if (!loop_.add(output_.get(), EPOLLIN, [this](uint32_t) { on_output(); })) eof_ = true;
  if (errors_read.valid()) {
    errors_ = std::move(errors_read);
    errors_eof_ = !loop_.add(errors_.get(), EPOLLIN, [this](uint32_t) { on_errors(); });
  }
  if (!loop_.add(pidfd_.get(), EPOLLIN, [this](uint32_t) { on_exit(); })) {
    // Cannot be told of its exit: it must not outlive its deadline unseen; the deadline reaps.
    pidfd_.reset();
  }
}

ChildCapture::~ChildCapture() {
  stop_watching();
  kill_and_reap();
}

void ChildCapture::kill_and_reap() {
  if (child_ > 0 && !exited_) {
    ::kill(-child_, SIGKILL);
    ::waitpid(child_, &wait_status_, 0);
    exited_ = true;
  }
}

void ChildCapture::stop_watching() {
  if (timer_) loop_.remove(timer_->fd());
  if (output_.valid()) loop_.remove(output_.get());
  if (errors_.valid() && !errors_eof_) loop_.remove(errors_.get());
  if (pidfd_.valid()) loop_.remove(pidfd_.get());
}

void ChildCapture::on_output() {
  char buffer[64 * 1024];
  const ssize_t n = ::read(output_.get(), buffer, sizeof buffer);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {
    eof_ = true;
    loop_.remove(output_.get());
    output_.reset();
    return finish_if_done();
  }
  if (text_.size() < max_output_) {
    text_.append(buffer, std::min(static_cast<size_t>(n), max_output_ - text_.size()));
  }
}

void ChildCapture::on_errors() {
  char buffer[16 * 1024];
  const ssize_t n = ::read(errors_.get(), buffer, sizeof buffer);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {
    errors_eof_ = true;
    loop_.remove(errors_.get());
    errors_.reset();
    return finish_if_done();
  }
  if (error_text_.size() < max_output_) {
    error_text_.append(buffer, std::min(static_cast<size_t>(n), max_output_ - error_text_.size()));
  }
}

void ChildCapture::on_exit() {
  if (::waitpid(child_, &wait_status_, WNOHANG) != child_) return;
  exited_ = true;
  loop_.remove(pidfd_.get());
  pidfd_.reset();
  finish_if_done();
}

void ChildCapture::on_deadline() {
  timer_->acknowledge();
  if (finished_) return;
  if (!pending_note_.empty()) return finish(pending_note_, false);
  // Still running at the deadline: kill it (a ptrace it holds is detached, the target runs on)
  // and keep what it printed.
  if (exited_ && child_ > 0) {
    // The leader is gone but something it started holds the output open: its process group.
    // (A pid stays unused while a process group of that number has members.)
    ::kill(-child_, SIGKILL);
  }
  kill_and_reap();
  finish(fmt::format("{} did not finish within {} ms and was killed", command_, timeout_.count()),
         true);
}

void ChildCapture::finish_if_done() {
  if (!eof_ || !errors_eof_ || !exited_ || finished_) return;
  std::string note;
  if (WIFEXITED(wait_status_) && WEXITSTATUS(wait_status_) != 0) {
    note = fmt::format("{} exited with code {}", command_, WEXITSTATUS(wait_status_));
  } else if (WIFSIGNALED(wait_status_)) {
    note = fmt::format("{} was killed by signal {}", command_, WTERMSIG(wait_status_));
  }
  finish(note, false);
}

void ChildCapture::finish(std::string note, bool timed_out) {
  finished_ = true;
  stop_watching();
  output_.reset();
  errors_.reset();
  pidfd_.reset();
  ChildOutcome outcome;
  outcome.errors = std::move(error_text_);
  outcome.started = started_child_;
  outcome.command = command_;
  outcome.output = std::move(text_);
  outcome.succeeded = note.empty() && exited_;
  outcome.timed_out = timed_out;
  outcome.note = std::move(note);
  outcome.seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  // `done` may destroy nothing of ours (the owner drops finished captures later), but move it out
  // so it runs exactly once.
  Done done = std::move(done_);
  done(std::move(outcome));
}

}  // namespace memvisor
