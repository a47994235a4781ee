// Thread stacks of a live process by a child process (eu-stack from elfutils, else gdb -batch),
// run on the supervisor's event loop so the rules never wait for it: its output is read as it
// comes, and it is killed at a deadline. The text says which tool ran, or why none did.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "os/event_loop.h"
#include "os/timer_fd.h"
#include "os/unique_fd.h"

namespace memvisor {

// The first tool found in PATH, as the argv to run on `pid`; nullopt when neither is installed.
std::optional<std::vector<std::string>> stack_tool_command(pid_t pid, const std::string& path);

class StackCapture {
 public:
  using Done = std::function<void(std::string text)>;

  // Starts the capture; `done` runs once, later, from the loop (also when no tool is installed
  // or it cannot start). Destroying the capture before then kills and reaps the tool.
  StackCapture(EventLoop& loop, pid_t pid, std::chrono::milliseconds timeout, Done done);
  ~StackCapture();
  StackCapture(const StackCapture&) = delete;
  StackCapture& operator=(const StackCapture&) = delete;

  bool finished() const { return finished_; }

 private:
  void start(pid_t pid);
  void on_output();
  void on_exit();
  void on_deadline();
  void finish_if_done();
  void finish(std::string note);
  void stop_watching();

  EventLoop& loop_;
  std::chrono::milliseconds timeout_;
  Done done_;
  std::optional<TimerFd> timer_;
  UniqueFd output_;
  UniqueFd pidfd_;
  pid_t child_ = -1;
  std::string command_;
  std::string text_;
  std::chrono::steady_clock::time_point started_;
  int wait_status_ = 0;
  bool eof_ = false;
  bool exited_ = false;
  bool finished_ = false;
  std::string pending_note_;  // set before the loop delivers it (no tool, spawn failed)
};

}  // namespace memvisor
