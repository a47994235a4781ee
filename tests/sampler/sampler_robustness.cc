// Allocation patterns the sampler must survive without changing a program's behaviour. Each
// mode prints a deterministic result, so a run under the library can be compared with a plain run.
//   sampler_robustness storm|fork-exec|dlopen|cxx|memalign|realloc
#include <dlfcn.h>
#include <malloc.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <new>
#include <string>
#include <thread>
#include <vector>

namespace {

uint64_t fill_and_sum(unsigned char* p, size_t size, uint64_t seed) {
  uint64_t sum = 0;
  for (size_t i = 0; i < size; i += 61) {
    p[i] = static_cast<unsigned char>(seed + i);
    sum += p[i];
  }
  return sum;
}

int storm() {
  constexpr int kThreads = 8;
  std::vector<uint64_t> sums(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([t, &sums] {
      std::vector<void*> live(256, nullptr);
      uint64_t state = static_cast<uint64_t>(t) + 1, sum = 0;
      for (int i = 0; i < 200000; ++i) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        const size_t slot = (state >> 33) % live.size();
        const size_t size = 1 + (state >> 20) % 20000;
        free(live[slot]);
        void* p = nullptr;
        switch ((state >> 40) % 4) {
          case 0:
            p = malloc(size);
            break;
          case 1:
            p = calloc(1, size);
            break;
          case 2:
            p = realloc(nullptr, size);
            break;
          default:
            if (posix_memalign(&p, 64, size) != 0) p = nullptr;
        }
        sum += fill_and_sum(static_cast<unsigned char*>(p), size, state);
        live[slot] = p;
      }
      for (void* p : live) free(p);
      sums[static_cast<size_t>(t)] = sum;
    });
  }
  for (auto& thread : threads) thread.join();
  for (int t = 0; t < kThreads; ++t)
    std::printf("thread %d sum %llu\n", t,
                static_cast<unsigned long long>(sums[static_cast<size_t>(t)]));
  return 0;
}

int fork_exec() {
  std::vector<char*> blocks;
  for (int i = 0; i < 1000; ++i)
    blocks.push_back(static_cast<char*>(malloc(4096 + static_cast<size_t>(i))));
  for (int child = 0; child < 4; ++child) {
    const pid_t pid = fork();
    if (pid == 0) {
      // The child frees what the parent allocated (sampled or not), allocates, then execs.
      for (char* b : blocks) free(b);
      std::string text;
      for (int i = 0; i < 10000; ++i) text += std::to_string(i);
      if (child % 2 == 0) {
        execl("/bin/echo", "echo", "child", std::to_string(child).c_str(),
              std::to_string(text.size()).c_str(), static_cast<char*>(nullptr));
        _exit(127);
      }
      std::printf("child %d forked only, %zu\n", child, text.size());
      std::fflush(stdout);
      _exit(0);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    std::printf("child %d exit %d\n", child, WEXITSTATUS(status));
    std::fflush(stdout);
  }
  for (char* b : blocks) free(b);
  return 0;
}

int use_dlopen() {
  for (int round = 0; round < 20; ++round) {
    void* lib = dlopen(LEAK_LIBRARY, RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
      std::printf("dlopen failed: %s\n", dlerror());
      return 1;
    }
    auto churn = reinterpret_cast<unsigned (*)(unsigned)>(dlsym(lib, "churn_in_library"));
    std::printf("round %d sum %u\n", round, churn(20000));
    dlclose(lib);
  }
  return 0;
}

struct alignas(64) Line {
  char bytes[64];
};
struct alignas(8192) Page2 {
  char bytes[8192];
};

int cxx() {
  uint64_t sum = 0;
  for (int i = 0; i < 100000; ++i) {
    auto* one = new long(i);
    auto* many = new int[static_cast<size_t>(i % 500 + 1)];
    many[0] = i;
    sum += static_cast<uint64_t>(*one + many[0]);
    delete one;  // sized delete
    delete[] many;
    auto* line = new Line;
    if (reinterpret_cast<uintptr_t>(line) % 64 != 0) return 1;
    line->bytes[63] = 1;
    delete line;  // aligned, sized delete
    if (i % 100 == 0) {
      auto* page = new Page2;
      if (reinterpret_cast<uintptr_t>(page) % 8192 != 0) return 1;
      page->bytes[8191] = 2;
      delete page;
      auto* lines = new Line[10];
      delete[] lines;
      void* raw = ::operator new (1000, std::align_val_t{128});
      if (reinterpret_cast<uintptr_t>(raw) % 128 != 0) return 1;
      ::operator delete (raw, 1000, std::align_val_t{128});
      auto* nothrow = new (std::nothrow) char[100];
      delete[] nothrow;
    }
  }
  std::printf("cxx sum %llu\n", static_cast<unsigned long long>(sum));
  return 0;
}

int memalign_free() {
  uint64_t sum = 0;
  for (int i = 0; i < 20000; ++i) {
    const size_t alignment = size_t{8} << (i % 14);  // 8 .. 64 KiB
    const size_t size = 1 + static_cast<size_t>(i) * 37 % 100000;
    void* p = nullptr;
    if (posix_memalign(&p, alignment, size) != 0) return 1;
    if (reinterpret_cast<uintptr_t>(p) % alignment != 0 || malloc_usable_size(p) < size) return 1;
    sum += fill_and_sum(static_cast<unsigned char*>(p), size, static_cast<uint64_t>(i));
    free(p);
    void* q = aligned_alloc(alignment, (size + alignment - 1) / alignment * alignment);
    void* r = memalign(alignment, size);
    void* v = valloc(size);
    void* pv = pvalloc(size);
    if (q == nullptr || r == nullptr || v == nullptr || pv == nullptr) return 1;
    if (reinterpret_cast<uintptr_t>(v) % 4096 != 0 || reinterpret_cast<uintptr_t>(pv) % 4096 != 0)
      return 1;
    free(q);
    free(r);
    free(v);
    free(pv);
  }
  void* bad = nullptr;
  std::printf("memalign sum %llu, bad alignment -> %d\n", static_cast<unsigned long long>(sum),
              posix_memalign(&bad, 3, 10));
  return 0;
}

int realloc_mix() {
  uint64_t sum = 0;
  std::vector<unsigned char*> blocks(64, nullptr);
  std::vector<size_t> sizes(64, 0);
  for (int i = 0; i < 100000; ++i) {
    const size_t slot = static_cast<size_t>(i) * 7 % 64;
    const size_t size = static_cast<size_t>(i) * 7919 % 300000;
    auto* p = static_cast<unsigned char*>(realloc(blocks[slot], size));
    if (size != 0 && p == nullptr) return 1;
    // Content up to the old size survives the move.
    if (p != nullptr && sizes[slot] > 0 && size > 0) sum += p[0];  // kept from the old block
    if (p != nullptr && size > 0) {
      p[0] = static_cast<unsigned char>(i);
      p[size - 1] = static_cast<unsigned char>(i >> 3);
      if (size > 1) memset(p + 1, 0, std::min<size_t>(size - 2, 64));
    }
    blocks[slot] = size == 0 ? nullptr : p;
    if (size == 0) free(p);
    sizes[slot] = size;
  }
  for (auto* p : blocks) free(p);
  errno = 0;
  void* overflow = reallocarray(nullptr, SIZE_MAX / 2, 3);
  std::printf("realloc sum %llu, overflow %s errno %d\n", static_cast<unsigned long long>(sum),
              overflow == nullptr ? "refused" : "accepted", errno);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "storm") return storm();
  if (mode == "fork-exec") return fork_exec();
  if (mode == "dlopen") return use_dlopen();
  if (mode == "cxx") return cxx();
  if (mode == "memalign") return memalign_free();
  if (mode == "realloc") return realloc_mix();
  std::fprintf(stderr, "usage: sampler_robustness storm|fork-exec|dlopen|cxx|memalign|realloc\n");
  return 2;
}
