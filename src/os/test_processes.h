// For the os tests only: real child processes to look at.
#pragma once

#include <sys/types.h>
#include <unistd.h>

namespace memvisor {

// A child that waits in pause() until it is signalled; the caller reaps it.
inline pid_t fork_pausing_child() {
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::pause();
    ::_exit(0);
  }
  return pid;
}

}  // namespace memvisor
