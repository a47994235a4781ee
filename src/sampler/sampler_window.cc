// Sampling windows: the raw file is mapped shared at a fixed address reserved once, so a late
// free that races with the end of a window writes into harmless anonymous memory, never into an
// unmapped page.
#include "sampler/sampler_window.h"

#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "sampler/sampled_region.h"
#include "sampler/sampler_state.h"
#include "sampler/sampling_math.h"
#include "sampler/spin_lock.h"
#include "sampler/stack_capture.h"

namespace memvisor_sampler {

constinit thread_local ThreadSampler t_sampler __attribute__((tls_model("initial-exec"))) = {};
Unwinder g_unwinder = kDefaultUnwinder;
volatile uint32_t g_open_window = kNoWindow;

namespace {

ControlPage* g_control = nullptr;
volatile int g_window_lock = 0;
volatile bool g_recording = false;
uint32_t g_window = 0;  // generation; region blocks remember the one they were sampled in
uint64_t g_interval = kDefaultIntervalBytes;
uint64_t g_deadline_ns = 0;
uint64_t g_libunwind_walks_at_open = 0;
int g_out_fd = -1;
char* g_log = nullptr;  // header + records, kLogBytes reserved once
constexpr uint64_t kLogBytes = raw_maps_offset(kDefaultCapacity);
// The log's pages are mapped ahead of the records, a chunk at a time, in one madvise each: a page
// fault per 4 KiB of records cost more than the samples themselves in a busy allocator (and far
// more under hypervisors that shadow page tables).
constexpr uint64_t kPopulateChunk = uint64_t{1} << 20;
char g_maps_buffer[16384];  // copying /proc/self/maps without the heap

uint64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000u + static_cast<uint64_t>(ts.tv_nsec);
}

RawHeader* header() {
  return reinterpret_cast<RawHeader*>(g_log);
}
RawRecord* record(uint64_t index) {
  return reinterpret_cast<RawRecord*>(g_log + kRawHeaderSize) + index;
}

// Records past this index are not written (counted as skipped): lowered when the file's blocks
// cannot be allocated ahead of them, reset when a window opens.
uint64_t g_record_limit = kDefaultCapacity;

// The file's blocks under the range are allocated first: the log is written through a shared
// mapping, and a store into a page the file system cannot allocate (a full disk) would be a
// SIGBUS in the worker. When they cannot be, the log ends before the range instead.
// MADV_POPULATE_WRITE (Linux 5.14) then maps the pages; older kernels refuse it and the pages
// fault in as written.
void populate_log(uint64_t offset, uint64_t bytes) {
  constexpr int kPopulateWrite = 23;
  if (offset >= kLogBytes) return;
  if (bytes > kLogBytes - offset) bytes = kLogBytes - offset;
  if (posix_fallocate(g_out_fd, static_cast<off_t>(offset), static_cast<off_t>(bytes)) != 0) {
    const uint64_t fit =
        offset <= kRawHeaderSize ? 0 : (offset - kRawHeaderSize) / sizeof(RawRecord);
    uint64_t limit = __atomic_load_n(&g_record_limit, __ATOMIC_RELAXED);
    while (fit < limit && !__atomic_compare_exchange_n(&g_record_limit, &limit, fit, true,
                                                       __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
    return;
  }
  madvise(g_log + offset, bytes, kPopulateWrite);
}

uint64_t chunk_of(uint64_t index) {
  return (kRawHeaderSize + index * sizeof(RawRecord)) / kPopulateChunk;
}

// The record for this thread's next sample, from its batch; a new batch when that is used up or
// was claimed in an earlier window. The batch that first reaches a chunk maps the next one.
uint64_t claim_record(ThreadSampler& t) {
  if (t.next_record == t.end_record) {
    const uint64_t first = __atomic_fetch_add(&header()->count, kRecordBatch, __ATOMIC_RELAXED);
    t.next_record = first;
    t.end_record = first + kRecordBatch;
    const uint64_t last_chunk = chunk_of(t.end_record - 1);
    if (first == 0 || chunk_of(first - 1) != last_chunk)
      populate_log((last_chunk + 1) * kPopulateChunk, kPopulateChunk);
  }
  return t.next_record++;
}

void lock_window() {
  spin_lock(&g_window_lock);
}
void unlock_window() {
  spin_unlock(&g_window_lock);
}

void set_error(const char* text) {
  if (g_control == nullptr) return;
  size_t n = strlen(text);
  if (n >= sizeof g_control->error) n = sizeof g_control->error - 1;
  memcpy(g_control->error, text, n);
  g_control->error[n] = '\0';
}

// Detach the file from the log range: whatever still writes there writes to fresh zero pages.
void park_log_range() {
  mmap(g_log, kLogBytes, PROT_READ | PROT_WRITE,
       MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED | MAP_NORESERVE, -1, 0);
}

void copy_maps_into_file() {
  RawHeader* h = header();
  const int maps = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
  uint64_t written = 0;
  if (maps >= 0) {
    for (;;) {
      const ssize_t got = read(maps, g_maps_buffer, sizeof g_maps_buffer);
      if (got <= 0) break;
      const auto chunk = static_cast<size_t>(got);
      if (pwrite(g_out_fd, g_maps_buffer, chunk, static_cast<off_t>(h->maps_offset + written)) !=
          got)
        break;
      written += chunk;
    }
    close(maps);
  }
  h->maps_size = written;
}

// Ends the open window; the caller holds the window lock.
void finish_window_locked() {
  if (!g_recording) return;
  __atomic_store_n(&g_open_window, kNoWindow, __ATOMIC_RELAXED);
  __atomic_store_n(&g_recording, false, __ATOMIC_RELEASE);
  RawHeader* h = header();
  h->end_ns = now_ns();
  const uint64_t walks = stacks_walked_by_libunwind() - g_libunwind_walks_at_open;
  h->libunwind_walks = walks > UINT32_MAX ? UINT32_MAX : static_cast<uint32_t>(walks);
  copy_maps_into_file();
  __atomic_store_n(&h->complete, 1u, __ATOMIC_RELEASE);
  close(g_out_fd);
  g_out_fd = -1;
  park_log_range();
  region_keep_freed(false);
  if (g_control != nullptr) {
    g_control->handled_seq = g_control->request_seq;
    g_control->state = kIdle;
    g_control->gate = 0;
  }
}

void* deadline_thread(void*) {
  const uint64_t deadline = g_deadline_ns;
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(deadline / 1000000000u);
  ts.tv_nsec = static_cast<long>(deadline % 1000000000u);
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) != 0) {
  }
  lock_window();
  if (g_recording && g_deadline_ns == deadline) finish_window_locked();
  unlock_window();
  return nullptr;
}

// One thread per window, with every signal blocked so it never takes one meant for the program.
bool start_deadline_thread() {
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  pthread_attr_t attr;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  pthread_attr_setstacksize(&attr, 64 * 1024);
  pthread_t thread;
  const bool ok = pthread_create(&thread, &attr, deadline_thread, nullptr) == 0;
  pthread_attr_destroy(&attr);
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
  return ok;
}

bool map_log(int fd) {
  if (g_log == nullptr) {
    void* range = mmap(nullptr, kLogBytes, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (range == MAP_FAILED) return false;
    g_log = static_cast<char*>(range);
  }
  return mmap(g_log, kLogBytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) !=
         MAP_FAILED;
}

// Opens the window asked for on the control page; the caller holds the window lock.
void open_window_locked() {
  ControlPage* c = g_control;
  c->state = kRecording;
  // O_EXCL unless the path is ours alone: two processes must never share one file.
  const int exclusive = c->replace_out != 0 ? O_TRUNC : O_EXCL;
  const int fd = open(c->out_path, O_RDWR | O_CREAT | exclusive | O_NOFOLLOW | O_CLOEXEC, 0600);
  // Sparse, and the first chunk (the header with it) allocated now: the log is written through
  // a shared mapping, where a full disk would be a SIGBUS, not an error (see populate_log). A
  // disk too full for the first chunk fails the window here, as a refused sample.
  if (fd < 0 || ftruncate(fd, static_cast<off_t>(kLogBytes)) != 0 ||
      posix_fallocate(fd, 0, static_cast<off_t>(kPopulateChunk)) != 0 || !map_log(fd) ||
      !region_reserve()) {
    if (fd >= 0) {
      close(fd);
      unlink(c->out_path);
    }
    set_error("cannot create the sample file");
    c->state = kFailed;
    c->handled_seq = c->request_seq;
    c->gate = 0;
    return;
  }
  g_out_fd = fd;
  RawHeader* h = header();
  memcpy(h->magic, "MVSRAW01", 8);
  h->version = kRawVersion;
  h->pid = static_cast<uint32_t>(getpid());
  g_interval = c->interval_bytes != 0 ? c->interval_bytes : kDefaultIntervalBytes;
  h->interval_bytes = g_interval;
  h->capacity = kDefaultCapacity;
  h->unwinder = g_unwinder;
  h->maps_offset = raw_maps_offset(kDefaultCapacity);
  timespec real{};
  clock_gettime(CLOCK_REALTIME, &real);
  h->start_realtime_s = real.tv_sec;
  h->start_ns = now_ns();
  g_libunwind_walks_at_open = stacks_walked_by_libunwind();
  ++g_window;
  __atomic_store_n(&g_record_limit, kDefaultCapacity, __ATOMIC_RELAXED);
  populate_log(0, kPopulateChunk);
  region_keep_freed(true);
  g_deadline_ns = c->duration_ns != 0 ? h->start_ns + c->duration_ns : 0;
  set_error("");
  __atomic_store_n(&g_recording, true, __ATOMIC_RELEASE);
  __atomic_store_n(&g_open_window, g_window, __ATOMIC_RELEASE);
  if (g_deadline_ns != 0 && !start_deadline_thread()) {
    set_error("cannot start the window thread");
    finish_window_locked();
  }
}

void refill_countdown(ThreadSampler& t) {
  if (t.tid == 0) t.tid = static_cast<uint32_t>(gettid());
  if (t.rng == 0) t.rng = (now_ns() ^ (uint64_t{t.tid} << 32)) | 1;
  t.countdown = next_sample_gap(t.rng, g_interval);
}

}  // namespace

void window_set_control(ControlPage* page) {
  g_control = page;
}

void window_set_unwinder(const char* name) {
  g_unwinder = kDefaultUnwinder;
  if (name != nullptr && strcmp(name, "fp") == 0) g_unwinder = kUnwindFramePointers;
  if (name != nullptr && strcmp(name, "libunwind") == 0) g_unwinder = kUnwindLibunwind;
}

bool window_recording() {
  if (__atomic_load_n(&g_recording, __ATOMIC_ACQUIRE)) return true;
  ControlPage* c = g_control;
  if (c == nullptr) return false;
  t_in_hook = true;  // opening the window allocates (the thread); those are not samples
  lock_window();
  if (!g_recording) {
    if (c->request_seq != c->handled_seq && c->out_path[0] != '\0') {
      open_window_locked();
    } else {
      c->gate = 0;  // stale gate: back to the fast path (memvisor sets it again if it asks)
    }
  }
  unlock_window();
  t_in_hook = false;
  return g_recording;
}

bool sample_due(size_t size) {
  // The hook has counted `size` down already; a countdown drawn for an earlier window is drawn
  // again for this one.
  ThreadSampler& t = t_sampler;
  if (t.window != g_window) {
    t.window = g_window;
    t.next_record = t.end_record = 0;
    refill_countdown(t);
    t.countdown -= static_cast<int64_t>(size);
  }
  if (t.countdown > 0) return false;
  refill_countdown(t);
  return true;
}

namespace {
// Makes `block`, a block of the sampled range, the sample of an allocation of `size` bytes.
void record_sample(void* block, size_t size, const SampleStack& stack) {
  ThreadSampler& t = t_sampler;
  const uint64_t index = claim_record(t);
  RegionBlock* meta = region_block(block);
  meta->window = g_window;
  if (index >= __atomic_load_n(&g_record_limit, __ATOMIC_RELAXED)) {
    meta->record = UINT32_MAX;
    __atomic_fetch_add(&header()->skipped, 1, __ATOMIC_RELAXED);
    return;
  }
  meta->record = static_cast<uint32_t>(index);
  RawRecord* r = record(index);
  r->size = size;
  r->weight = sample_weight(size, g_interval);
  r->freed_ns = 0;
  r->thread = t.tid;
  r->depth = stack.depth;
  memcpy(r->frames, stack.frames, stack.depth * sizeof stack.frames[0]);
  __atomic_store_n(&r->alloc_ns, now_ns(), __ATOMIC_RELEASE);
}
}  // namespace

void* take_sample(size_t size, size_t alignment, bool zero, const SampleStack& stack) {
  void* block = nullptr;
  if (alignment <= kPageSize && size != 0) block = region_alloc(size);
  if (block == nullptr) {
    __atomic_fetch_add(&header()->skipped, 1, __ATOMIC_RELAXED);
    return nullptr;
  }
  record_sample(block, size, stack);
  if (zero) memset(block, 0, size);
  return block;
}

namespace {
// The allocation held in `block` ends: its sample, if it has one in this window, is freed now.
void end_sample(void* block) {
  RegionBlock* meta = region_block(block);
  if (meta->window == g_window && meta->record != UINT32_MAX && g_recording)
    __atomic_store_n(&record(meta->record)->freed_ns, now_ns(), __ATOMIC_RELEASE);
  meta->record = UINT32_MAX;
}
}  // namespace

void resample_in_place(void* block, size_t size, const SampleStack* stack) {
  end_sample(block);
  region_block(block)->size = size;
  if (stack != nullptr) record_sample(block, size, *stack);
}

void free_sampled(void* p) {
  end_sample(p);
  region_free(p);
}

void window_finish_at_exit() {
  lock_window();
  finish_window_locked();
  unlock_window();
}

void window_before_fork() {
  lock_window();
  region_lock();
}

void window_after_fork(bool child) {
  region_unlock();
  if (child) {
    // The child's one thread has a new id (and must not draw the parent's random sequence).
    t_sampler.tid = 0;
    t_sampler.rng = 0;
    // The parent's window, file and thread are not ours: forget them, keep the blocks.
    g_recording = false;
    g_open_window = kNoWindow;
    if (g_out_fd >= 0) close(g_out_fd);
    g_out_fd = -1;
    if (g_log != nullptr) park_log_range();
    region_keep_freed(false);
    ++g_window;
  }
  unlock_window();
}

}  // namespace memvisor_sampler
