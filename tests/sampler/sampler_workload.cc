// A program with known allocation sites: it churns (allocates and frees) from two functions of
// its own and leaks a known number of bytes from leak_known_bytes in libsampler_leak.so.
//   sampler_workload LEAK_MIB CHURN_MIB [HOLD_SECONDS [busy | drip KIB_PER_SECOND]]
// With HOLD_SECONDS it then prints "ready" and sleeps without allocating; with `busy` it instead
// keeps leaking 64 KiB and churning 1 MiB every 10 ms (for windowed sampling); with `drip` it
// leaks KIB_PER_SECOND steadily, in 20 ms steps, and nothing else (a leak for the leak rule to
// find), and on SIGUSR1 it takes 256 MiB at once (to cross a critical threshold on cue).
#include <signal.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

extern "C" size_t leak_known_bytes(size_t total);

namespace {

__attribute__((noinline)) unsigned churn_short_lived(size_t total) {
  void* ring[64] = {};
  unsigned sum = 0;
  size_t done = 0;
  for (unsigned i = 0; done < total; ++i) {
    const size_t size = 16 + (i * 2654435761u) % 65536u;
    std::free(ring[i % 64]);
    auto* block = static_cast<unsigned char*>(std::malloc(size));
    block[size - 1] = static_cast<unsigned char>(i);
    sum += block[size - 1];
    ring[i % 64] = block;
    done += size;
  }
  for (void* block : ring) std::free(block);
  return sum;
}

__attribute__((noinline)) size_t churn_cxx(size_t total) {
  size_t done = 0, sum = 0;
  while (done < total) {
    std::vector<std::string> words;
    for (int i = 0; i < 100; ++i) words.emplace_back(static_cast<size_t>(40 + i), 'x');
    auto numbers = std::make_unique<long[]>(1000);
    numbers[999] = 7;
    sum += words.back().size() + static_cast<size_t>(numbers[999]);
    done += 100 * 90 + 8000;
  }
  return sum;
}

volatile std::sig_atomic_t g_surge = 0;

void drip(int hold_seconds, size_t bytes_per_second) {
  std::signal(SIGUSR1, [](int) { g_surge = 1; });
  for (int tick = 0; tick < hold_seconds * 50; ++tick) {
    leak_known_bytes(bytes_per_second / 50);
    if (g_surge == 1) {
      g_surge = 2;
      constexpr size_t kSurge = 256u << 20;
      auto* block = static_cast<unsigned char*>(std::malloc(kSurge));
      std::memset(block, 1, kSurge);  // touched: it counts in RSS and PSS at once
      std::printf("surge %u\n", block[kSurge - 1]);
      std::fflush(stdout);
    }
    usleep(20000);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: sampler_workload LEAK_MIB CHURN_MIB [HOLD_SECONDS]\n");
    return 2;
  }
  const size_t leak = std::strtoull(argv[1], nullptr, 10) << 20;
  const size_t churn = std::strtoull(argv[2], nullptr, 10) << 20;
  unsigned checksum = churn_short_lived(churn / 2);
  checksum += static_cast<unsigned>(churn_cxx(churn / 4));
  const size_t leaked = leak_known_bytes(leak);
  checksum += churn_short_lived(churn / 4);
  std::printf("leaked %zu bytes, checksum %u\n", leaked, checksum);
  std::fflush(stdout);
  if (argc > 3) {
    std::printf("ready\n");
    std::fflush(stdout);
    const int hold = std::atoi(argv[3]);
    if (argc > 5 && std::string(argv[4]) == "drip") {
      drip(hold, std::strtoull(argv[5], nullptr, 10) << 10);
    } else if (argc > 4 && std::string(argv[4]) == "busy") {
      for (int tick = 0; tick < hold * 100; ++tick) {
        leak_known_bytes(64 * 1024);
        churn_short_lived(1 << 20);
        usleep(10000);
      }
    } else {
      sleep(static_cast<unsigned>(hold));
    }
  }
  return 0;
}
