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

#include "sampler/sampler_abi.h"

namespace memvisor {
namespace {

namespace abi = memvisor_sampler;
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
    if (page_ != nullptr) munmap(page_, abi::kControlPageSize);
  }
  Status open(const std::string& path, int pid) {
    const int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
      return Error{"no heap sampler control page " + path +
                       " (is libmemvisor_sampler.so preloaded in pid " + std::to_string(pid) +
                       "?)",
                   errno};
    struct stat st{};
    void* page = MAP_FAILED;
    if (fstat(fd, &st) == 0 && st.st_size >= abi::kControlPageSize)
      page = mmap(nullptr, abi::kControlPageSize, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ::close(fd);
    if (page == MAP_FAILED) return Error{"cannot map " + path, errno};
    page_ = static_cast<abi::ControlPage*>(page);
    if (std::memcmp(page_->magic, "MVSCTL01", 8) != 0 || page_->pid != static_cast<uint32_t>(pid))
      return Error{path + " is not the control page of pid " + std::to_string(pid), 0};
    return {};
  }
  abi::ControlPage* operator->() { return page_; }

 private:
  abi::ControlPage* page_ = nullptr;
};

}  // namespace

std::string sampler_control_dir(int pid, const std::string& proc_root) {
  const std::string base = proc_root + "/" + std::to_string(pid);
  const std::string environ = read_text(base + "/environ");
  const std::string key = std::string(abi::kEnvControlDir) + "=";
  for (size_t at = 0; at < environ.size();) {
    const size_t end = std::min(environ.find('\0', at), environ.size());
    if (environ.compare(at, key.size(), key) == 0 && end > at + key.size())
      return environ.substr(at + key.size(), end - at - key.size());
    at = end + 1;
  }
  struct stat st{};
  const uid_t uid = stat(base.c_str(), &st) == 0 ? st.st_uid : getuid();
  return "/tmp/memvisor-sampler-" + std::to_string(uid);
}

Result<RawSamples> take_heap_sample(const SampleWindowRequest& request,
                                    const std::function<void(Millis, const char*)>& progress) {
  const std::string dir =
      request.control_dir.empty() ? sampler_control_dir(request.pid, request.proc_root)
                                  : request.control_dir;
  const std::string control_path = dir + "/" + std::to_string(request.pid) + ".ctl";
  ControlMapping control;
  if (auto opened = control.open(control_path, request.pid); !opened) return opened.error();
  if (control->state == abi::kRecording)
    return Error{"pid " + std::to_string(request.pid) + " is already being sampled", 0};

  const uint32_t seq = control->request_seq + 1;
  const std::string raw_path = dir + "/" + std::to_string(request.pid) + "." +
                               std::to_string(seq) + "." + std::to_string(getpid()) + ".raw";
  if (raw_path.size() >= sizeof control->out_path) return Error{"path too long: " + raw_path, 0};
  unlink(raw_path.c_str());
  std::memset(control->out_path, 0, sizeof control->out_path);
  std::memcpy(control->out_path, raw_path.data(), raw_path.size());
  control->interval_bytes = request.interval_bytes;
  control->duration_ns = static_cast<uint64_t>(request.duration.count()) * 1000000u;
  control->replace_out = 0;
  __atomic_store_n(&control->request_seq, seq, __ATOMIC_RELEASE);
  __atomic_store_n(&control->gate, 1u, __ATOMIC_RELEASE);

  const auto start = Clock::now();
  const auto deadline = start + request.timeout;
  for (;;) {
    const auto elapsed = std::chrono::duration_cast<Millis>(Clock::now() - start);
    const uint32_t handled = __atomic_load_n(&control->handled_seq, __ATOMIC_ACQUIRE);
    const uint32_t state = control->state;
    if (handled == seq) {
      if (state == abi::kFailed)
        return Error{"pid " + std::to_string(request.pid) + ": " + control->error, 0};
      auto raw = read_raw_samples(raw_path);
      unlink(raw_path.c_str());
      return raw;
    }
    if (state != abi::kRecording && control->gate == 0) {
      // The process cleared a gate it saw before our request landed: ring again.
      __atomic_store_n(&control->gate, 1u, __ATOMIC_RELEASE);
    }
    if (Clock::now() >= deadline) break;
    if (progress) progress(elapsed, state == abi::kRecording ? "recording" : "waiting for an allocation");
    std::this_thread::sleep_for(Millis(200));
  }
  if (control->state == abi::kRecording) {
    // The window is open but the answer is late: take what is recorded so far.
    auto raw = read_raw_samples(raw_path);
    if (raw) raw->maps = read_text(request.proc_root + "/" + std::to_string(request.pid) + "/maps");
    return raw;
  }
  // Never opened: the process did not allocate since the request. Withdraw the request.
  __atomic_store_n(&control->handled_seq, seq, __ATOMIC_RELEASE);
  __atomic_store_n(&control->gate, 0u, __ATOMIC_RELEASE);
  RawSamples empty;
  empty.pid = static_cast<uint32_t>(request.pid);
  empty.interval_bytes = request.interval_bytes;
  empty.unwinder = "none";
  empty.maps = read_text(request.proc_root + "/" + std::to_string(request.pid) + "/maps");
  return empty;
}

}  // namespace memvisor
