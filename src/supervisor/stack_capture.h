// Thread stacks of a live process by a child process (eu-stack from elfutils, else gdb -batch),
// run on the supervisor's event loop so the rules never wait for it (see child_capture.h). The
// text says which tool ran, or why none did.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "supervisor/child_capture.h"

namespace memvisor {

// The first tool found in PATH, as the argv to run on `pid`; nullopt when neither is installed.
std::optional<std::vector<std::string>> stack_tool_command(pid_t pid, const std::string& path);

class StackCapture {
 public:
  using Done = std::function<void(std::string text)>;

  // Starts the capture; `done` runs once, later, from the loop (also when no tool is installed
  // or it cannot start). Destroying the capture before then kills and reaps the tool.
  StackCapture(EventLoop& loop, pid_t pid, std::chrono::milliseconds timeout, Done done);

  bool finished() const { return child_.finished(); }

 private:
  ChildCapture child_;
};

}  // namespace memvisor
