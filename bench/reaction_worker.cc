// A worker for the reaction-time benchmark (bench/reaction_time.py). It grows to 4 MiB under
// LIMIT_MIB of PSS, pauses at random (a random phase against the sampling), then grows by 256 KiB
// steps, reading its own PSS after each, until it is above the limit. It records CLOCK_MONOTONIC
// before the step that crossed (t_cross: the reaction measured from it is an upper bound) and
// after it, and the stop signal's handler records its arrival. One line to stdout:
// "reaction t_cross_ns t_crossed_ns t_signal_ns".
//   reaction_worker LIMIT_MIB
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace {

volatile sig_atomic_t stopped = 0;
int64_t signal_ns = 0;

int64_t monotonic_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

void on_stop(int) {
  if (stopped != 0) return;    // the first stop signal counts (SIGTERM may follow)
  signal_ns = monotonic_ns();  // clock_gettime is async-signal-safe
  stopped = 1;
}

// Our own PSS in bytes, as memvisor reads it.
uint64_t own_pss() {
  std::ifstream rollup("/proc/self/smaps_rollup");
  std::string key;
  uint64_t kb = 0;
  while (rollup >> key) {
    if (key == "Pss:" && rollup >> kb) return kb * 1024;
  }
  return 0;
}

// Touches every page, so the bytes count in RSS and PSS at once.
void allocate_touched(std::vector<char*>& blocks, size_t bytes) {
  auto* block = static_cast<char*>(std::malloc(bytes));
  if (block == nullptr) std::exit(1);
  std::memset(block, 1, bytes);
  blocks.push_back(block);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: reaction_worker LIMIT_MIB\n");
    return 2;
  }
  const uint64_t limit = std::strtoull(argv[1], nullptr, 10) << 20;
  constexpr size_t kStep = 256 << 10;

  struct sigaction action {};
  action.sa_handler = on_stop;
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);

  std::vector<char*> blocks;
  while (own_pss() + (4 << 20) < limit) allocate_touched(blocks, 1 << 20);
  // Give the supervisor time to learn the pid, then a random phase against its sampling tick.
  std::random_device seed;
  const auto pause_us = 500000 + std::uniform_int_distribution<int>(0, 200000)(seed);
  ::usleep(static_cast<useconds_t>(pause_us));

  int64_t cross_ns = 0;
  int64_t crossed_ns = 0;
  while (crossed_ns == 0) {
    const int64_t before = monotonic_ns();
    allocate_touched(blocks, kStep);
    if (own_pss() > limit) {
      cross_ns = before;
      crossed_ns = monotonic_ns();
    }
  }
  // Blocked from here until sigsuspend, so a signal between the check and the wait is not lost.
  sigset_t stop_signals;
  sigset_t waiting;
  ::sigemptyset(&stop_signals);
  ::sigaddset(&stop_signals, SIGINT);
  ::sigaddset(&stop_signals, SIGTERM);
  ::sigprocmask(SIG_BLOCK, &stop_signals, &waiting);
  ::sigdelset(&waiting, SIGINT);
  ::sigdelset(&waiting, SIGTERM);
  while (stopped == 0) ::sigsuspend(&waiting);
  std::printf("reaction %lld %lld %lld\n", static_cast<long long>(cross_ns),
              static_cast<long long>(crossed_ns), static_cast<long long>(signal_ns));
  std::fflush(stdout);
  for (char* block : blocks) std::free(block);
  return 0;
}
