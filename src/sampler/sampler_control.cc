// Start-up of the preload library: resolve the real allocator (dlsym's own allocations are
// served from the sampled range), then find what arms us: MEMVISOR_SAMPLER_OUT for the whole
// run, else a PID.ctl control page that memvisor writes to ask for a window. No thread and no
// signal handler here; a forked child gets its own control page and starts disarmed.
#include <dlfcn.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sampler/sampled_region.h"
#include "sampler/sampler_state.h"
#include "sampler/sampler_window.h"

namespace memvisor_sampler {

namespace {
// free() before anything was allocated (possible in principle): initialise, then forward.
void boot_free(void* p) {
  ensure_initialised();
  if (g_real.free != boot_free && p != nullptr) g_real.free(p);
}
}  // namespace

RealAllocator g_real = {nullptr, boot_free, nullptr, nullptr, nullptr,
                        nullptr, nullptr,   nullptr, nullptr, nullptr};
constinit thread_local bool t_in_hook __attribute__((tls_model("initial-exec"))) = false;

namespace {

volatile uint32_t g_boot_gate = 1;  // before initialisation: take the slow path
volatile uint32_t g_off_gate = 0;   // no control available: never sample
ControlPage g_local_page = {};      // whole-run mode: a control page nobody else sees
volatile int g_init_state = 0;      // 0 not started, 1 resolving, 2 done
char g_control_path[512] = {};      // this process's PID.ctl, removed at exit

// Small formatting without the C library's allocating paths.
size_t append(char* out, size_t at, size_t cap, const char* text) {
  while (*text != '\0' && at + 1 < cap) out[at++] = *text++;
  out[at] = '\0';
  return at;
}
size_t append_number(char* out, size_t at, size_t cap, uint64_t value) {
  char digits[24];
  size_t n = 0;
  do {
    digits[n++] = static_cast<char>('0' + value % 10);
    value /= 10;
  } while (value != 0);
  while (n > 0 && at + 1 < cap) out[at++] = digits[--n];
  out[at] = '\0';
  return at;
}

uint64_t env_bytes(const char* name, uint64_t fallback) {
  const char* text = getenv(name);
  if (text == nullptr || *text == '\0') return fallback;
  uint64_t value = 0;
  for (; *text >= '0' && *text <= '9'; ++text)
    value = value * 10 + static_cast<uint64_t>(*text - '0');
  return value == 0 ? fallback : value;
}

void resolve_real_allocator() {
  RealAllocator real = {};
  real.free = reinterpret_cast<void (*)(void*)>(dlsym(RTLD_NEXT, "free"));
  real.calloc = reinterpret_cast<void* (*)(size_t, size_t)>(dlsym(RTLD_NEXT, "calloc"));
  real.realloc = reinterpret_cast<void* (*)(void*, size_t)>(dlsym(RTLD_NEXT, "realloc"));
  real.posix_memalign =
      reinterpret_cast<int (*)(void**, size_t, size_t)>(dlsym(RTLD_NEXT, "posix_memalign"));
  real.aligned_alloc =
      reinterpret_cast<void* (*)(size_t, size_t)>(dlsym(RTLD_NEXT, "aligned_alloc"));
  real.memalign = reinterpret_cast<void* (*)(size_t, size_t)>(dlsym(RTLD_NEXT, "memalign"));
  real.valloc = reinterpret_cast<void* (*)(size_t)>(dlsym(RTLD_NEXT, "valloc"));
  real.pvalloc = reinterpret_cast<void* (*)(size_t)>(dlsym(RTLD_NEXT, "pvalloc"));
  real.malloc_usable_size =
      reinterpret_cast<size_t (*)(void*)>(dlsym(RTLD_NEXT, "malloc_usable_size"));
  auto* real_malloc = reinterpret_cast<void* (*)(size_t)>(dlsym(RTLD_NEXT, "malloc"));
  g_real = real;
  // malloc last: a non-null g_real.malloc is what "initialised" means to the hooks.
  __atomic_store_n(&g_real.malloc, real_malloc, __ATOMIC_RELEASE);
}

void fill_control_header(ControlPage* page) {
  memcpy(page->magic, "MVSCTL01", 8);
  page->pid = static_cast<uint32_t>(getpid());
}

// Maps DIR/PID.ctl (created 0600) as this process's control page; nullptr if impossible.
ControlPage* open_control_page() {
  char path[512];
  const char* dir = getenv(kEnvControlDir);
  size_t at = 0;
  if (dir != nullptr && *dir != '\0') {
    at = append(path, 0, sizeof path, dir);
  } else {
    at = append(path, 0, sizeof path, "/tmp/memvisor-sampler-");
    at = append_number(path, at, sizeof path, getuid());
    // The default directory is private to the user; an explicit one is the caller's business.
    mkdir(path, 0700);
  }
  at = append(path, at, sizeof path, "/");
  at = append_number(path, at, sizeof path, static_cast<uint64_t>(getpid()));
  at = append(path, at, sizeof path, ".ctl");
  if (at + 1 >= sizeof path) return nullptr;
  const int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return nullptr;
  void* page = MAP_FAILED;
  // Allocated, not just sized: a store into an unallocated page of a full disk is a SIGBUS.
  if (posix_fallocate(fd, 0, kControlPageSize) == 0)
    page = mmap(nullptr, kControlPageSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  close(fd);
  if (page == MAP_FAILED) {
    unlink(path);
    return nullptr;
  }
  auto* control = static_cast<ControlPage*>(page);
  fill_control_header(control);
  memcpy(g_control_path, path, at + 1);
  return control;
}

// MEMVISOR_SAMPLER_OUT=PATH (with %p replaced by the pid): armed from start to exit.
bool arm_whole_run(const char* pattern) {
  char* out = g_local_page.out_path;
  const size_t cap = sizeof g_local_page.out_path;
  size_t at = 0;
  out[0] = '\0';
  for (const char* c = pattern; *c != '\0' && at + 1 < cap; ++c) {
    if (c[0] == '%' && c[1] == 'p') {
      g_local_page.replace_out = 1;  // the file is ours alone: an exec'd image may start over
      at = append_number(out, at, cap, static_cast<uint64_t>(getpid()));
      ++c;
    } else {
      out[at++] = *c;
      out[at] = '\0';
    }
  }
  fill_control_header(&g_local_page);
  g_local_page.interval_bytes = env_bytes(kEnvInterval, kDefaultIntervalBytes);
  g_local_page.duration_ns = 0;
  g_local_page.request_seq = 1;
  g_local_page.gate = 1;
  window_set_control(&g_local_page);
  g_gate = &g_local_page.gate;
  return true;
}

void attach_control() {
  window_set_unwinder(getenv(kEnvUnwind));
  const char* out = getenv(kEnvOut);
  if (out != nullptr && *out != '\0') {
    arm_whole_run(out);
    return;
  }
  ControlPage* page = open_control_page();
  window_set_control(page);
  g_gate = page != nullptr ? &page->gate : &g_off_gate;
}

void before_fork() {
  window_before_fork();
}
void after_fork_parent() {
  window_after_fork(false);
}
void after_fork_child() {
  window_after_fork(true);
  // The child starts disarmed, with a control page of its own (a whole-run child stays off:
  // its parent owns the output file).
  if (g_gate == &g_local_page.gate) {
    g_gate = &g_off_gate;
    return;
  }
  ControlPage* page = open_control_page();
  window_set_control(page);
  g_gate = page != nullptr ? &page->gate : &g_off_gate;
}

}  // namespace

volatile uint32_t* g_gate = &g_boot_gate;

void remove_control_page() {
  if (g_control_path[0] != '\0') unlink(g_control_path);
  g_control_path[0] = '\0';
}

void* bootstrap_alloc(size_t size) {
  if (!region_reserve()) return nullptr;
  void* p = region_alloc(size == 0 ? 1 : size);
  if (p != nullptr) region_block(p)->size = size;
  return p;
}

void ensure_initialised() {
  if (__atomic_load_n(&g_init_state, __ATOMIC_ACQUIRE) == 2) return;
  if (g_init_state == 1 && t_in_hook) return;  // dlsym allocating inside our own start-up
  int expected = 0;
  if (!__atomic_compare_exchange_n(&g_init_state, &expected, 1, false, __ATOMIC_ACQ_REL,
                                   __ATOMIC_ACQUIRE)) {
    while (__atomic_load_n(&g_init_state, __ATOMIC_ACQUIRE) != 2) sched_yield();
    return;
  }
  const bool was_in_hook = t_in_hook;
  t_in_hook = true;
  region_reserve();  // before dlsym: its allocations land in the range
  resolve_real_allocator();
  pthread_atfork(before_fork, after_fork_parent, after_fork_child);
  attach_control();
  t_in_hook = was_in_hook;
  __atomic_store_n(&g_init_state, 2, __ATOMIC_RELEASE);
}

}  // namespace memvisor_sampler

// Programs that never allocate still get a control page, so `memvisor sample` finds them.
__attribute__((constructor)) static void memvisor_sampler_start() {
  memvisor_sampler::ensure_initialised();
}

// A window still open at exit (whole-run mode, or a process exiting early) is completed here.
__attribute__((destructor)) static void memvisor_sampler_stop() {
  memvisor_sampler::window_finish_at_exit();
  memvisor_sampler::remove_control_page();
}
