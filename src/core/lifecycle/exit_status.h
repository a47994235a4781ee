// How a process ended, decoded from waitid's siginfo into words an operator reads.
#pragma once

#include <string>

namespace memvisor {

struct ExitStatus {
  bool signaled = false;
  int code = 0;    // exit code when !signaled
  int signal = 0;  // terminating signal when signaled
  bool core_dumped = false;

  bool success() const { return !signaled && code == 0; }
  // "exited with code 1", "killed by SIGKILL", "killed by SIGSEGV (core dumped)"
  std::string describe() const;
  // "code 1", "SIGKILL" — compact, for tables.
  std::string brief() const;
};

}  // namespace memvisor
