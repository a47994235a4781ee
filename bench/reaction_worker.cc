// A worker for the reaction-time benchmark (bench/reaction_time.py): after a random pause it
// crosses a memory limit in one step and records CLOCK_MONOTONIC just before the step (t_cross,
// so the reaction measured is an upper bound) and after it; the stop signal's handler records
// its arrival. One line to stdout: "reaction t_cross_ns t_crossed_ns t_signal_ns".
//   reaction_worker BASE_MIB STEP_MIB
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>

namespace {

volatile sig_atomic_t stopped = 0;
int64_t signal_ns = 0;

int64_t monotonic_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

void on_stop(int) {
  if (stopped != 0) return;  // the first stop signal counts (SIGTERM may follow)
  signal_ns = monotonic_ns();  // clock_gettime is async-signal-safe
  stopped = 1;
}

// Touches every page, so the bytes count in RSS and PSS at once.
char* allocate_touched(size_t bytes) {
  auto* block = static_cast<char*>(std::malloc(bytes));
  if (block == nullptr) std::exit(1);
  std::memset(block, 1, bytes);
  return block;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: reaction_worker BASE_MIB STEP_MIB\n");
    return 2;
  }
  const size_t mib = size_t{1} << 20;
  const size_t base = std::strtoul(argv[1], nullptr, 10) * mib;
  const size_t step = std::strtoul(argv[2], nullptr, 10) * mib;

  struct sigaction action {};
  action.sa_handler = on_stop;
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);

  char* below = allocate_touched(base);
  // Give the supervisor time to learn the pid, then a random phase against its sampling tick.
  std::random_device seed;
  const auto pause_us = 500000 + std::uniform_int_distribution<int>(0, 200000)(seed);
  ::usleep(static_cast<useconds_t>(pause_us));

  const int64_t cross_ns = monotonic_ns();
  char* above = allocate_touched(step);
  const int64_t crossed_ns = monotonic_ns();
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
  std::free(above);
  std::free(below);
  return 0;
}
