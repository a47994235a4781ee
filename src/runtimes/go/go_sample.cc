// A Go worker's heap over a window, from its own net/http/pprof endpoint: the heap profile (after
// a GC) at the window's start and at its end, and the difference by stack. Go samples every
// allocation by bytes all the time (runtime.MemProfileRate), so nothing is switched on in the
// worker and the window costs it two garbage collections.

#include <chrono>
#include <thread>

#include "os/proc.h"
#include "runtimes/go/pprof_heap_text.h"
#include "runtimes/http_get.h"
#include "runtimes/proc_listeners.h"
#include "runtimes/runtime_sample.h"

namespace memvisor {
namespace {

constexpr size_t kMaxGoProfile = 64 << 20;
constexpr const char* kHeapPath = "/debug/pprof/heap?debug=1&gc=1";

bool go_process_alive(int pid, const std::string& proc_root) {
  auto stat = read_proc_stat(pid, proc_root);
  return stat && stat->state != 'Z';
}

Result<PprofHeap> fetch_go_heap(const HttpUrl& url, Millis timeout) {
  auto body = http_get(url, url.path + kHeapPath, timeout, kMaxGoProfile);
  if (!body) return body.error();
  auto heap = parse_pprof_heap_text(*body);
  if (!heap) {
    return Error{"GET http://" + url.host + ":" + std::to_string(url.port) + url.path + kHeapPath +
                 ": " + heap.error().message};
  }
  return heap;
}

// The endpoint must be the sampled process's own: with surge recycling (or SO_REUSEPORT) another
// process of the service may hold the port, and its heap is not this one's.
Status check_pprof_owner(int pid, const HttpUrl& url, const std::string& proc_root) {
  auto listeners = process_listeners(pid, proc_root);
  if (!listeners) return {};  // unreadable: let the request say what it finds
  for (const TcpListener& listener : *listeners)
    if (listener.port == url.port) return {};
  return Error{"pid " + std::to_string(pid) + " does not listen on port " +
                   std::to_string(url.port) +
                   ", so the pprof endpoint there is another process's (a replacement started "
                   "while this one held the port, or a neighbour); give each process its own "
                   "pprof port",
               0};
}

}  // namespace

Result<RuntimeProfile> sample_go(const RuntimeSampleRequest& request,
                                 const SampleProgress& progress) {
  if (request.pprof_url.empty()) {
    return Error{
        "a Go worker is sampled through its net/http/pprof endpoint: name it with the "
        "service's pprof = \"http://127.0.0.1:PORT\" (or --pprof)",
        0};
  }
  auto url = parse_http_url(request.pprof_url);
  if (!url) return Error{"pprof " + request.pprof_url + ": " + url.error().message};
  if (Status owner = check_pprof_owner(request.pid, *url, request.proc_root); !owner)
    return owner.error();
  const auto start = std::chrono::steady_clock::now();
  auto elapsed = [&] {
    return std::chrono::duration_cast<Millis>(std::chrono::steady_clock::now() - start);
  };
  auto remaining = [&] { return std::max(Millis(1), request.timeout - elapsed()); };
  if (progress) progress(elapsed(), "reading the first heap profile");
  auto before = fetch_go_heap(*url, std::min(remaining(), Millis(30000)));
  if (!before) return before.error();
  const auto window_start = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - window_start < request.duration) {
    if (!go_process_alive(request.pid, request.proc_root))
      return Error{"pid " + std::to_string(request.pid) + " exited during the window", 0};
    if (elapsed() >= request.timeout) return Error{"the window did not end within the timeout", 0};
    if (progress) progress(elapsed(), "recording");
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  if (progress) progress(elapsed(), "reading the second heap profile");
  auto after = fetch_go_heap(*url, remaining());
  if (!after) return after.error();
  RuntimeProfile profile = pprof_heap_diff(*before, *after);
  profile.pid = static_cast<uint32_t>(request.pid);
  profile.window_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - window_start).count();
  profile.method = "the worker's net/http/pprof heap profile (" + request.pprof_url +
                   "), three after a GC at each end of the window; Go samples one allocation per " +
                   format_size(after->sampling_rate) + " on average (runtime.MemProfileRate)";
  profile.covers =
      "the Go heap; memory outside it (cgo's malloc, mmap by hand) is not seen. The endpoint "
      "answers for the process that serves it: with several processes on one port, the one "
      "that answered";
  profile.caveats = {
      "retained: the growth of live bytes by stack between the two profiles (objects "
      "allocated before the window and freed during it lower a stack's figure); allocated: "
      "what the stack allocated in the window, freed or not",
      "each end of the window is the median of three profiles, each after a forced garbage "
      "collection (?gc=1): six collections per window",
      "what the program allocates while a collection marks is kept for that cycle, so each "
      "profile shows some fresh garbage as live, in proportion to the allocation rate and the "
      "heap's size; it mostly cancels between the two ends, and a longer window lets a leak "
      "outgrow what is left"};
  return profile;
}

}  // namespace memvisor
