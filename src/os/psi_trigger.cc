// Memory pressure from the kernel: the PSI file of a source, and triggers armed on it.
#include "os/psi_trigger.h"

#include <fcntl.h>
#include <linux/magic.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "core/proc/memory_parse_cgroup.h"
#include "os/files.h"
#include "os/sys_error.h"

namespace memvisor {

Result<std::string> psi_file_of(std::string_view source, const std::string& proc_root,
                                const std::string& cgroup_root) {
  if (source == "host") return proc_root + "/pressure/memory";
  if (source != "cgroup") return std::string(source);
  auto text = read_file(proc_root + "/self/cgroup");
  if (!text) return text.error();
  auto cgroups = parse_proc_cgroup(*text);
  if (!cgroups || !cgroups->v2_path) {
    return Error{"find memvisor's cgroup v2 in " + proc_root + "/self/cgroup", ENOENT};
  }
  std::string path = *cgroups->v2_path;
  // cgroup = true on v2 moves memvisor into a leaf "main" of the cgroup it was given: the
  // pressure that matters is that whole cgroup's, workers included.
  if (path.ends_with("/main")) path.resize(path.size() - 5);
  // A hybrid host whose memory controller is on v1 leaves memvisor in v2's root: that root's
  // memory.pressure exists and is the whole host's, which "cgroup" would have watched in silence.
  // (On a v2-only host "/" may be a container's own cgroup namespace: kept.)
  if (path == "/" && cgroups->v1_memory_path && *cgroups->v1_memory_path != "/") {
    return Error{"memvisor's memory cgroup " + *cgroups->v1_memory_path +
                     " is on cgroup v1, which has no memory.pressure (PSI per cgroup needs "
                     "cgroup v2)",
                 ENOENT};
  }
  if (path == "/") path.clear();
  for (const std::string& mount : {cgroup_root, cgroup_root + "/unified"}) {
    const std::string file = mount + path + "/memory.pressure";
    if (::access(file.c_str(), R_OK) == 0) return file;
  }
  return Error{
      "find memory.pressure of cgroup " + *cgroups->v2_path + " (PSI per cgroup needs cgroup v2)",
      ENOENT};
}

Result<UniqueFd> arm_psi_trigger(const std::string& path, std::string_view trigger) {
  UniqueFd fd(::open(path.c_str(), O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (!fd.valid()) return sys_error("open", path);
  struct statfs fs {};
  if (::fstatfs(fd.get(), &fs) != 0) return sys_error("statfs", path);
  if (fs.f_type != PROC_SUPER_MAGIC && fs.f_type != CGROUP2_SUPER_MAGIC) {
    return Error{path + " is not a kernel PSI file (not on procfs or cgroup2)", ENOTSUP};
  }
  // The kernel wants the terminating NUL with the line.
  const std::string line = std::string(trigger) + '\0';
  if (::write(fd.get(), line.data(), line.size()) < 0) {
    return sys_error("arm PSI trigger \"" + std::string(trigger) + "\" on", path);
  }
  return fd;
}

}  // namespace memvisor
