// Reallocs with known outcomes, for the sampler's realloc accounting. Run with interval 1, where
// every allocation is a sample that stands for exactly its size:
//   grow_in_place    malloc 10000, realloc to 12000 (the same 4-page run), kept
//   grow_by_moving   malloc 2 MiB with a pattern, realloc to 3 MiB (a larger run), kept
//   shrink_and_free  malloc 20000, realloc to 100 (in place), freed
// Exits 1 if a realloc lost contents.
#include <cstdio>
#include <cstdlib>
#include <cstring>

// Plain C names, as the report prints them.
extern "C" {

void* g_kept[2];

__attribute__((noinline)) bool grow_in_place() {
  auto* p = static_cast<unsigned char*>(std::malloc(10000));
  std::memset(p, 7, 10000);
  p = static_cast<unsigned char*>(std::realloc(p, 12000));
  g_kept[0] = p;
  return p[0] == 7 && p[9999] == 7;
}

__attribute__((noinline)) bool grow_by_moving() {
  constexpr size_t kMiB = size_t{1} << 20;
  auto* p = static_cast<unsigned char*>(std::malloc(2 * kMiB));
  for (size_t i = 0; i < 2 * kMiB; ++i) p[i] = static_cast<unsigned char>(i * 31);
  p = static_cast<unsigned char*>(std::realloc(p, 3 * kMiB));
  g_kept[1] = p;
  for (size_t i = 0; i < 2 * kMiB; ++i)
    if (p[i] != static_cast<unsigned char>(i * 31)) return false;
  return true;
}

__attribute__((noinline)) bool shrink_and_free() {
  auto* p = static_cast<unsigned char*>(std::malloc(20000));
  std::memset(p, 9, 20000);
  p = static_cast<unsigned char*>(std::realloc(p, 100));
  const bool ok = p[99] == 9;
  std::free(p);
  return ok;
}

}  // extern "C"

int main() {
  const bool ok = grow_in_place() && grow_by_moving() && shrink_and_free();
  std::printf("%s %p %p\n", ok ? "ok" : "contents lost", g_kept[0], g_kept[1]);
  return ok ? 0 : 1;
}
