// Reading what runtime_from_process() judges.
#include "runtimes/detect_runtime.h"

#include "os/files.h"

namespace memvisor {

RuntimeKind detect_runtime(int pid, const std::string& proc_root) {
  const std::string dir = proc_root + "/" + std::to_string(pid);
  const std::string exe_path = read_link(dir + "/exe");
  auto maps = read_file(dir + "/maps");
  return runtime_from_process(exe_path, maps ? *maps : "");
}

}  // namespace memvisor
