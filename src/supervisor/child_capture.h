// A helper program (a stack tool, `memvisor sample`) run by the supervisor as a child watched by
// its event loop, so the loop never waits for it: its output is read as it comes, its exit is
// seen through a pidfd, and it is killed (with its process group) and reaped at a deadline.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "os/event_loop.h"
#include "os/spawn.h"
#include "os/timer_fd.h"
#include "os/unique_fd.h"

namespace memvisor {

// What to run: `argv`, or, when it is empty, why nothing can run (`unavailable`).
struct ChildCommand {
  // Not an aggregate: callers name argv and unavailable, the rest are set by name when needed.
  ChildCommand(std::vector<std::string> argv_ = {}, std::string unavailable_ = {})
      : argv(std::move(argv_)), unavailable(std::move(unavailable_)) {}
  std::vector<std::string> argv;
  std::string unavailable;
  std::vector<std::string> env;  // the complete environment; empty: the supervisor's own
  std::string cwd;               // empty: the supervisor's
  std::optional<UserIdentity> user;
  // stderr apart, in ChildOutcome::errors (an exec monitor's number is on stdout alone).
  bool separate_stderr = false;
};

struct ChildOutcome {
  std::string command;     // argv joined by spaces; empty when nothing ran
  std::string output;      // stdout and stderr together, up to the capture's limit
  std::string errors;      // stderr, with separate_stderr (also up to the limit)
  bool started = false;    // the program was executed (false: it could not start)
  bool succeeded = false;  // it ran and exited with code 0
  bool timed_out = false;  // killed at the deadline
  // Why it did not succeed, in words: why it could not start, "exited with code 1", "was killed
  // by signal 11", "did not finish within 2000 ms and was killed". Empty on success.
  std::string note;
  double seconds = 0;  // from the start to the end
};

class ChildCapture {
 public:
  using Done = std::function<void(ChildOutcome outcome)>;

  // Starts `command`; `done` runs once, later, from the loop (also when it cannot start).
  // Destroying the capture before then kills and reaps the child, and `done` never runs.
  ChildCapture(EventLoop& loop, ChildCommand command, std::chrono::milliseconds timeout, Done done,
               size_t max_output = 4 << 20);
  ~ChildCapture();
  ChildCapture(const ChildCapture&) = delete;
  ChildCapture& operator=(const ChildCapture&) = delete;

  bool finished() const { return finished_; }

 private:
  void start(ChildCommand command);
  void on_output();
  void on_errors();
  void on_exit();
  void on_deadline();
  void finish_if_done();
  void finish(std::string note, bool timed_out);
  void stop_watching();
  void kill_and_reap();

  EventLoop& loop_;
  std::chrono::milliseconds timeout_;
  Done done_;
  size_t max_output_;
  std::optional<TimerFd> timer_;
  UniqueFd output_;
  UniqueFd errors_;  // separate_stderr only
  UniqueFd pidfd_;
  pid_t child_ = -1;
  std::string command_;
  std::string text_;
  std::string error_text_;
  std::chrono::steady_clock::time_point started_;
  int wait_status_ = 0;
  bool eof_ = false;
  bool errors_eof_ = true;  // until a separate stderr pipe is opened
  bool exited_ = false;
  bool finished_ = false;
  bool started_child_ = false;
  std::string pending_note_;  // set before the loop delivers it (nothing to run, spawn failed)
};

}  // namespace memvisor
