// Reading what runtime_from_process() judges.
#include "runtimes/detect_runtime.h"

#include <unistd.h>

#include "os/files.h"

namespace memvisor {

RuntimeKind detect_runtime(int pid, const std::string& proc_root) {
  const std::string dir = proc_root + "/" + std::to_string(pid);
  char exe[4096];
  const ssize_t n = ::readlink((dir + "/exe").c_str(), exe, sizeof exe - 1);
  const std::string exe_path = n > 0 ? std::string(exe, static_cast<size_t>(n)) : "";
  auto maps = read_file(dir + "/maps");
  return runtime_from_process(exe_path, maps ? *maps : "");
}

}  // namespace memvisor
