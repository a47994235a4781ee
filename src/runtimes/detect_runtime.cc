// Reading what runtime_from_process() judges, and an executable's sections for Go.
#include "runtimes/detect_runtime.h"

#include "os/files.h"
#include "runtimes/go/go_executable.h"

namespace memvisor {

RuntimeKind detect_runtime(int pid, const std::string& proc_root) {
  const std::string dir = proc_root + "/" + std::to_string(pid);
  const std::string exe_path = read_link(dir + "/exe");
  auto maps = read_file(dir + "/maps");
  const RuntimeKind kind = runtime_from_process(exe_path, maps ? *maps : "");
  // A Go binary looks native from its name and mappings; its sections tell.
  if (kind == RuntimeKind::native && is_go_executable(dir + "/exe")) return RuntimeKind::go;
  return kind;
}

}  // namespace memvisor
