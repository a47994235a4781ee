#include "supervisor/stack_capture.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>

#include "os/pidfd.h"
#include "os/spawn.h"

namespace memvisor {
namespace {

constexpr size_t kMaxOutput = 4 << 20;  // a process with thousands of threads still fits

std::optional<std::string> find_program(const std::string& name, const std::string& path) {
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    const std::string dir = path.substr(start, end - start);
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    start = end + 1;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::vector<std::string>> stack_tool_command(pid_t pid, const std::string& path) {
  if (auto eu_stack = find_program("eu-stack", path)) {
    // -i: inlined frames too; -s: source file and line where debug info has them.
    return std::vector<std::string>{*eu_stack, "-i", "-s", "-p", std::to_string(pid)};
  }
  if (auto gdb = find_program("gdb", path)) {
    return std::vector<std::string>{
        *gdb, "-batch", "-nx", "-p", std::to_string(pid), "-ex", "thread apply all bt"};
  }
  return std::nullopt;
}

StackCapture::StackCapture(EventLoop& loop, pid_t pid, std::chrono::milliseconds timeout, Done done)
    : loop_(loop), timeout_(timeout), done_(std::move(done)) {
  started_ = std::chrono::steady_clock::now();
  auto timer = TimerFd::create();
  if (!timer) {
    // Without a timer there is no deadline: do not start a child that could hang.
    pending_note_ = "no stacks: " + timer.error().describe();
    return;
  }
  timer_.emplace(std::move(*timer));
  if (!loop_.add(timer_->fd(), EPOLLIN, [this](uint32_t) { on_deadline(); })) {
    timer_.reset();
    pending_note_ = "no stacks: cannot watch a timer";
    return;
  }
  start(pid);
  // Every outcome, even an immediate one, is delivered from the loop, never from here.
  (void)timer_->arm(pending_note_.empty() ? started_ + timeout_ : started_);
}

void StackCapture::start(pid_t pid) {
  const char* path_env = ::getenv("PATH");
  const auto command =
      stack_tool_command(pid, path_env != nullptr ? path_env : "/usr/local/bin:/usr/bin:/bin");
  if (!command) {
    pending_note_ =
        "no stack tool is installed: install eu-stack (Debian package elfutils) or gdb to get "
        "thread stacks in incident bundles";
    return;
  }
  for (const std::string& arg : *command) command_ += (command_.empty() ? "" : " ") + arg;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    pending_note_ = "no stacks: pipe failed";
    return;
  }
  UniqueFd read_end(fds[0]);
  UniqueFd write_end(fds[1]);
  ::fcntl(read_end.get(), F_SETFL, ::fcntl(read_end.get(), F_GETFL) | O_NONBLOCK);
  SpawnSpec spec;
  spec.argv = *command;
  spec.env = current_environment();
  spec.stdout_fd = write_end.get();
  spec.stderr_fd = write_end.get();
  spec.parent_death_signal = SIGKILL;
  sigset_t none;
  sigemptyset(&none);
  spec.child_sigmask = none;  // the supervisor blocks signals for its signalfd
  auto spawned = spawn_process(spec);
  if (!spawned) {
    pending_note_ = "no stacks: " + spawned.error().describe();
    return;
  }
  write_end.reset();
  child_ = spawned->pid;
  pidfd_ = std::move(spawned->pidfd);
  output_ = std::move(read_end);
  if (!loop_.add(output_.get(), EPOLLIN, [this](uint32_t) { on_output(); })) eof_ = true;
  if (!loop_.add(pidfd_.get(), EPOLLIN, [this](uint32_t) { on_exit(); })) {
    // Cannot be told of its exit: it must not outlive its deadline unseen; the deadline reaps.
    pidfd_.reset();
  }
}

StackCapture::~StackCapture() {
  stop_watching();
  if (child_ > 0 && !exited_) {
    ::kill(-child_, SIGKILL);
    ::waitpid(child_, nullptr, 0);
  }
}

void StackCapture::stop_watching() {
  if (timer_) loop_.remove(timer_->fd());
  if (output_.valid()) loop_.remove(output_.get());
  if (pidfd_.valid()) loop_.remove(pidfd_.get());
}

void StackCapture::on_output() {
  char buffer[64 * 1024];
  const ssize_t n = ::read(output_.get(), buffer, sizeof buffer);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  if (n <= 0) {
    eof_ = true;
    loop_.remove(output_.get());
    output_.reset();
    return finish_if_done();
  }
  if (text_.size() < kMaxOutput) {
    text_.append(buffer, std::min(static_cast<size_t>(n), kMaxOutput - text_.size()));
  }
}

void StackCapture::on_exit() {
  if (::waitpid(child_, &wait_status_, WNOHANG) != child_) return;
  exited_ = true;
  loop_.remove(pidfd_.get());
  pidfd_.reset();
  finish_if_done();
}

void StackCapture::on_deadline() {
  timer_->acknowledge();
  if (finished_) return;
  if (!pending_note_.empty()) return finish(pending_note_);
  // Still running at the deadline: kill it (the kernel detaches its ptrace, the target runs on)
  // and keep what it printed.
  if (child_ > 0 && !exited_) {
    ::kill(-child_, SIGKILL);
    ::waitpid(child_, &wait_status_, 0);
    exited_ = true;
  }
  finish(fmt::format("{} did not finish within {} ms and was killed; its output so far is above",
                     command_, timeout_.count()));
}

void StackCapture::finish_if_done() {
  if (!eof_ || !exited_ || finished_) return;
  std::string note;
  if (WIFEXITED(wait_status_) && WEXITSTATUS(wait_status_) != 0) {
    note = fmt::format("{} exited with code {}", command_, WEXITSTATUS(wait_status_));
  } else if (WIFSIGNALED(wait_status_)) {
    note = fmt::format("{} was killed by signal {}", command_, WTERMSIG(wait_status_));
  }
  finish(note);
}

void StackCapture::finish(std::string note) {
  finished_ = true;
  stop_watching();
  output_.reset();
  pidfd_.reset();
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  std::string text;
  if (!command_.empty()) text += fmt::format("# {} ({:.2f} s)\n", command_, took);
  text += text_;
  if (!text.empty() && text.back() != '\n') text += "\n";
  if (!note.empty()) text += "# " + note + "\n";
  // done_ may destroy nothing of ours (the owner drops finished captures later), but move it out
  // so it runs exactly once.
  Done done = std::move(done_);
  done(std::move(text));
}

}  // namespace memvisor
