// A shared library with one known leak: leak_known_bytes keeps every block it allocates.
#include <cstddef>
#include <cstdlib>

namespace {
void** g_kept = nullptr;  // blocks chained through their first word: no other allocation
}

extern "C" __attribute__((visibility("default"), noinline)) size_t leak_known_bytes(size_t total) {
  size_t leaked = 0;
  for (unsigned i = 0; leaked < total; ++i) {
    const size_t size = 1024 + (i * 4099u) % 15360u;
    auto** block = static_cast<void**>(std::malloc(size));  // LEAK SITE
    *block = g_kept;
    g_kept = block;
    leaked += size;
  }
  return leaked;
}

// Allocates and frees, for programs that dlopen this library.
extern "C" __attribute__((visibility("default"))) unsigned churn_in_library(unsigned rounds) {
  unsigned sum = 0;
  for (unsigned i = 0; i < rounds; ++i) {
    auto* block = static_cast<unsigned char*>(std::malloc(100 + i % 5000));
    block[0] = static_cast<unsigned char>(i);
    sum += block[0];
    std::free(block);
  }
  return sum;
}
