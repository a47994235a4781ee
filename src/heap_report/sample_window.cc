// Writing a request into PID.ctl (mapped shared with the process) and polling for the answer.
#include "heap_report/sample_window.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <sstream>
#include <thread>

#include "core/proc/environ_text.h"
#include "os/pidfd.h"
#include "os/unique_fd.h"
#include "sampler/sampler_abi.h"

namespace memvisor {
namespace {

namespace sampler_abi = memvisor_sampler;
using Clock = std::chrono::steady_clock;

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// The control page, mapped for as long as the request lasts.
class ControlMapping {
 public:
  ~ControlMapping() {
    if (page_ != nullptr) munmap(page_, sampler_abi::kControlPageSize);
  }
  Status open(const std::string& path, int pid) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
      return Error{"no heap sampler control page " + path +
                       " (is libmemvisor_sampler.so preloaded in pid " + std::to_string(pid) + "?)",
                   errno};
    struct stat st {};
    void* page = MAP_FAILED;
    if (fstat(fd, &st) == 0 && st.st_size >= sampler_abi::kControlPageSize)
      page =
          mmap(nullptr, sampler_abi::kControlPageSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    if (page == MAP_FAILED) return Error{"cannot map " + path, errno};
    page_ = static_cast<sampler_abi::ControlPage*>(page);
    if (std::memcmp(page_->magic, "MVSCTL01", 8) != 0 || page_->pid != static_cast<uint32_t>(pid))
      return Error{path + " is not the control page of pid " + std::to_string(pid), 0};
    return {};
  }
  sampler_abi::ControlPage* operator->() { return page_; }

 private:
  sampler_abi::ControlPage* page_ = nullptr;
};

}  // namespace

std::string sampler_control_dir(int pid, const std::string& proc_root) {
  const std::string base = proc_root + "/" + std::to_string(pid);
  const auto dir = environ_value(read_text(base + "/environ"), sampler_abi::kEnvControlDir);
  if (dir && !dir->empty()) return *dir;
  struct stat st {};
  const uid_t uid = stat(base.c_str(), &st) == 0 ? st.st_uid : getuid();
  return "/tmp/memvisor-sampler-" + std::to_string(uid);
}

struct HeapSampleSession::State {
  SampleWindowRequest request;
  ControlMapping control;
  uint32_t seq = 0;
  std::string raw_path;
  // The raw file, opened as soon as the process has created it, and its name removed at once:
  // whatever becomes of this session (a kill included), nothing is left in the directory.
  UniqueFd raw;
  // The process itself, so its exit ends the wait at once (its control page outlives it). Invalid
  // for a proc_root other than /proc (tests), where the pid is not a live process's.
  UniqueFd process;
  Clock::time_point started, deadline;
  bool done = false;

  // Opens and unlinks the raw file once the process has made it; true when open.
  bool hold_raw() {
    if (raw.valid()) return true;
    raw.reset(::open(raw_path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (raw.valid()) unlink(raw_path.c_str());
    return raw.valid();
  }
  Result<RawSamples> read_raw() {
    if (!hold_raw()) return read_raw_samples(raw_path);  // for its error message
    return read_raw_samples(raw.get(), raw_path);
  }
};

HeapSampleSession::HeapSampleSession() : state_(std::make_unique<State>()) {}
HeapSampleSession::~HeapSampleSession() = default;

Status HeapSampleSession::start(const SampleWindowRequest& request) {
  State& s = *state_;
  s.request = request;
  if (request.proc_root == "/proc") {
    auto process = pidfd_open(request.pid);
    if (!process) return Error{"pid " + std::to_string(request.pid) + " is not running", 0};
    s.process = std::move(*process);
  }
  const std::string dir = request.control_dir.empty()
                              ? sampler_control_dir(request.pid, request.proc_root)
                              : request.control_dir;
  const std::string control_path = dir + "/" + std::to_string(request.pid) + ".ctl";
  if (auto opened = s.control.open(control_path, request.pid); !opened) return opened.error();
  if (s.control->state == sampler_abi::kRecording)
    return Error{"pid " + std::to_string(request.pid) + " is already being sampled", 0};
  s.seq = s.control->request_seq + 1;
  s.raw_path = dir + "/" + std::to_string(request.pid) + "." + std::to_string(s.seq) + "." +
               std::to_string(getpid()) + ".raw";
  if (s.raw_path.size() >= sizeof s.control->out_path)
    return Error{"path too long: " + s.raw_path, 0};
  unlink(s.raw_path.c_str());
  std::memset(s.control->out_path, 0, sizeof s.control->out_path);
  std::memcpy(s.control->out_path, s.raw_path.data(), s.raw_path.size());
  s.control->interval_bytes = request.interval_bytes;
  s.control->duration_ns = static_cast<uint64_t>(request.duration.count()) * 1000000u;
  s.control->replace_out = 0;
  __atomic_store_n(&s.control->request_seq, s.seq, __ATOMIC_RELEASE);
  __atomic_store_n(&s.control->gate, 1u, __ATOMIC_RELEASE);
  s.started = Clock::now();
  s.deadline = s.started + request.timeout;
  return {};
}

bool HeapSampleSession::recording() const {
  return !state_->done && state_->control->state == sampler_abi::kRecording;
}

std::optional<Result<RawSamples>> HeapSampleSession::poll() {
  State& s = *state_;
  if (s.done) return std::nullopt;
  const std::string maps_path = s.request.proc_root + "/" + std::to_string(s.request.pid) + "/maps";
  const uint32_t handled = __atomic_load_n(&s.control->handled_seq, __ATOMIC_ACQUIRE);
  const uint32_t state = s.control->state;
  if (handled == s.seq) {
    s.done = true;
    if (state == sampler_abi::kFailed)
      return Result<RawSamples>(
          Error{"pid " + std::to_string(s.request.pid) + ": " + s.control->error, 0});
    return s.read_raw();
  }
  if (state == sampler_abi::kRecording) s.hold_raw();
  if (s.process.valid() && pidfd_exited(s.process.get())) {
    s.done = true;
    s.hold_raw();  // removes a file the process began, if any
    const auto elapsed = std::chrono::duration_cast<Millis>(Clock::now() - s.started);
    return Result<RawSamples>(Error{"pid " + std::to_string(s.request.pid) + " exited " +
                                        format_duration(elapsed) +
                                        " into the sample, before its window ended: no sample",
                                    0});
  }
  if (state != sampler_abi::kRecording && s.control->gate == 0) {
    // The process cleared a gate it saw before our request landed: ring again.
    __atomic_store_n(&s.control->gate, 1u, __ATOMIC_RELEASE);
  }
  if (Clock::now() < s.deadline) return std::nullopt;
  s.done = true;
  if (state == sampler_abi::kRecording) {
    // The window is open but the answer is late: take what is recorded so far.
    auto raw = s.read_raw();
    if (raw) raw->maps = read_text(maps_path);
    return raw;
  }
  // Never opened: the process did not allocate since the request. Withdraw the request.
  __atomic_store_n(&s.control->handled_seq, s.seq, __ATOMIC_RELEASE);
  __atomic_store_n(&s.control->gate, 0u, __ATOMIC_RELEASE);
  RawSamples empty;
  empty.pid = static_cast<uint32_t>(s.request.pid);
  empty.interval_bytes = s.request.interval_bytes;
  empty.unwinder = "none";
  empty.maps = read_text(maps_path);
  return Result<RawSamples>(std::move(empty));
}

Result<RawSamples> take_heap_sample(const SampleWindowRequest& request,
                                    const std::function<void(Millis, const char*)>& progress) {
  HeapSampleSession session;
  if (auto started = session.start(request); !started) return started.error();
  const auto start = Clock::now();
  for (;;) {
    if (auto result = session.poll()) return std::move(*result);
    if (progress)
      progress(std::chrono::duration_cast<Millis>(Clock::now() - start),
               session.recording() ? "recording" : "waiting for an allocation");
    std::this_thread::sleep_for(Millis(200));
  }
}

}  // namespace memvisor
