// Per-instance cgroups: mkdir, an open cgroup.procs for the child, kill-then-rmdir at the end.
#include "os/instance_cgroups.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>

#include "core/proc/memory_parse_cgroup.h"
#include "os/files.h"
#include "os/sys_error.h"

namespace memvisor {
namespace {

bool subtree_lists_memory(const std::string& path) {
  auto text = read_file(path);
  return text && lists_controller(*text, "memory");
}

Status write_text(const std::string& path, std::string_view text) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) return sys_error("open", path);
  if (::write(fd.get(), text.data(), text.size()) < 0) return sys_error("write", path);
  return {};
}

void kill_members(const std::string& dir) {
  auto text = read_file(dir + "/cgroup.procs");
  if (!text) return;
  std::string_view rest = *text;
  while (!rest.empty()) {
    const size_t end = std::min(rest.find('\n'), rest.size());
    pid_t pid = 0;
    const auto line = rest.substr(0, end);
    if (std::from_chars(line.data(), line.data() + line.size(), pid).ec == std::errc() && pid > 0) {
      ::kill(pid, SIGKILL);
    }
    rest.remove_prefix(std::min(end + 1, rest.size()));
  }
}

}  // namespace

Result<InstanceCgroups> InstanceCgroups::create(const std::string& cgroup_root,
                                                const std::string& proc_root) {
  auto reader = CgroupMemoryReader::detect(cgroup_root, proc_root);
  if (!reader) return reader.error();
  auto own = reader->cgroup_of(::getpid());
  if (!own) return own.error();
  std::string base = *own;
  while (!base.empty() && base.back() == '/') base.pop_back();
  const std::string& hierarchy = reader->hierarchy();
  if (reader->version() == CgroupVersion::kV2 &&
      !subtree_lists_memory(hierarchy + base + "/cgroup.subtree_control")) {
    return Error{"cgroup v2: the memory controller is not enabled for the children of " +
                     (base.empty() ? std::string("/") : base) +
                     " (it needs a delegated cgroup, e.g. systemd's Delegate=yes)",
                 EPERM};
  }
  const std::string parent = base + "/memvisor." + std::to_string(::getpid());
  const std::string dir = hierarchy + parent;
  if (::mkdir(dir.c_str(), 0755) < 0 && errno != EEXIST) return sys_error("create cgroup", dir);
  InstanceCgroups cgroups(reader->version(), hierarchy, parent);
  if (reader->version() == CgroupVersion::kV2) {
    if (auto enabled = write_text(dir + "/cgroup.subtree_control", "+memory"); !enabled) {
      return enabled.error();
    }
  }
  return cgroups;
}

InstanceCgroups::~InstanceCgroups() {
  if (hierarchy_.empty()) return;  // moved from
  for (const std::string& dir : busy_) {
    kill_members(dir);
    ::rmdir(dir.c_str());
  }
  ::rmdir((hierarchy_ + parent_).c_str());
}

Result<UniqueFd> InstanceCgroups::make(const std::string& name) {
  const std::string dir = hierarchy_ + cgroup_path(name);
  // A directory left by an earlier process of the same name (not yet removable) is reused. Its
  // leftovers were sent SIGKILL already; it must leave the removal queue, whose retries would
  // kill the new process too.
  if (::mkdir(dir.c_str(), 0755) < 0 && errno != EEXIST) return sys_error("create cgroup", dir);
  std::erase(busy_, dir);
  const std::string procs = dir + "/cgroup.procs";
  UniqueFd fd(::open(procs.c_str(), O_WRONLY | O_CLOEXEC));
  if (!fd.valid()) return sys_error("open", procs);
  return fd;
}

bool InstanceCgroups::try_remove(const std::string& dir) {
  if (::rmdir(dir.c_str()) == 0 || errno == ENOENT) return true;
  kill_members(dir);
  return false;
}

void InstanceCgroups::retry_removals() {
  std::erase_if(busy_, [this](const std::string& dir) { return try_remove(dir); });
}

void InstanceCgroups::remove(const std::string& name) {
  retry_removals();
  const std::string dir = hierarchy_ + cgroup_path(name);
  if (!try_remove(dir)) busy_.push_back(dir);
}

}  // namespace memvisor
