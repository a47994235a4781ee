// Black-box test harness: runs the real memvisor binary in a temp dir and watches what it does
// through its files (events.jsonl), its CLI and /proc.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace memvisor::testing {

using namespace std::chrono_literals;

// A Python program that grows by 5 MiB every 100 ms, forever.
inline constexpr const char* kGrowingPython =
    "import time\nhog = []\nwhile True:\n    hog.append(bytearray(5 << 20))\n    time.sleep(0.1)\n";

class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }
  // Writes `content` to `name` inside the dir (mode 0755 when executable).
  std::string write(const std::string& name, const std::string& content,
                    bool executable = false) const;

 private:
  std::string path_;
};

struct CommandResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs a shell command line to completion; its stdout and stderr together in `out`.
CommandResult run_shell(const std::string& command);

// Runs memvisor with `args` to completion (at most `timeout`), capturing its output.
CommandResult run_memvisor(const std::vector<std::string>& args,
                           std::chrono::milliseconds timeout = 20s);
// SOURCE_DIR/RELATIVE: a file of this checkout (examples, test workers). Built as a path: GCC 12
// warns falsely (-Warray-bounds) on string concatenation for some lengths of the checkout's path.
std::string source_path(const std::string& relative);
// A loopback TCP port nothing listens on right now (bound to 0 and released); -1 on failure.
int free_port();

// The 1-based number of the first line of `file` that contains `marker`; 0 when none does.
int line_of(const std::string& file, const std::string& marker);

// True when `program` is found in PATH.
bool have_program(const std::string& program);

// A memvisor left running in the background; killed (and its tree) if still alive at the end.
class Memvisor {
 public:
  // `wrapper` runs memvisor under another program, e.g. {"unshare", "--pid", "--fork"}.
  Memvisor(const TempDir& dir, std::vector<std::string> args, std::vector<std::string> wrapper = {},
           std::vector<std::string> env = {});
  ~Memvisor();
  pid_t pid() const { return pid_; }
  std::string state_dir() const { return state_dir_; }
  void signal(int signo) const;
  // Waits for exit; returns the exit code (128+signal when killed) or -1 on timeout.
  int wait(std::chrono::milliseconds timeout);
  std::string out() const;
  std::string err() const;

  std::vector<nlohmann::json> events() const;
  // Events named `name` (and of `instance` "web.1" when given).
  std::vector<nlohmann::json> events(const std::string& name,
                                     const std::string& instance = "") const;
  // Waits until at least `count` such events exist; returns them (fewer on timeout).
  std::vector<nlohmann::json> wait_events(const std::string& name, size_t count,
                                          std::chrono::milliseconds timeout,
                                          const std::string& instance = "") const;
  // `memvisor status --json` of this memvisor (the status object; null when it failed).
  nlohmann::json status() const;

 private:
  std::string state_dir_;
  std::string out_path_;
  std::string err_path_;
  pid_t pid_ = -1;
  bool reaped_ = false;
};

// The `status` object asked over the control socket from this process (null when it failed):
// faster than Memvisor::status(), which runs the CLI, so a test can sample often.
nlohmann::json status_of(const Memvisor& memvisor);

// An event's time ("ts": RFC 3339 with milliseconds) as unix seconds.
double event_seconds(const nlohmann::json& event);

// Polls `condition` every 20 ms until it holds or `timeout` passes.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

bool process_alive(pid_t pid);              // exists and is not a zombie
std::vector<pid_t> descendants(pid_t pid);  // every process below pid in the process tree
// For a failure message: `pid` and every process below it, a line each with its name, state
// (R, S, D…) and where in the kernel it waits (wchan).
std::string process_states(pid_t pid);
std::string read_text(const std::string& path);

// A raw connection to STATE_DIR/control.sock (-1 when it cannot connect), for tests that send
// bytes the control client never would; reads time out after `receive_timeout`.
int connect_control(const std::string& state_dir, std::chrono::seconds receive_timeout);
// Sends all of `data` (MSG_NOSIGNAL); false when the peer is gone.
bool send_all(int fd, const std::string& data);
// One line without its newline; what arrived before end of file or a timeout otherwise.
std::string read_line(int fd);

}  // namespace memvisor::testing
