// Per-instance cgroups: mkdir, an open cgroup.procs for the child, kill-then-rmdir at the end.
#include "os/instance_cgroups.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <optional>

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

// systemd marks the cgroups it delegates (Delegate=yes) with this extended attribute: "trusted."
// by the system manager, "user." by a user's manager. Only those are memvisor's to reorganise.
bool is_delegated(const std::string& dir) {
  for (const char* name : {"trusted.delegate", "user.delegate"}) {
    char value[8] = {};
    const ssize_t n = ::getxattr(dir.c_str(), name, value, sizeof value - 1);
    if (n > 0 && std::string_view(value, static_cast<size_t>(n)) == "1") return true;
  }
  return false;
}

std::string parent_of(const std::string& cgroup) {
  const size_t slash = cgroup.rfind('/');
  return slash == std::string::npos || slash == 0 ? std::string() : cgroup.substr(0, slash);
}

// The delegated cgroup memvisor may organise: its own (systemd before 254), or its parent when
// systemd put memvisor in a subgroup of the delegated one (DelegateSubgroup=); nullopt: neither.
std::optional<std::string> find_delegated(const std::string& hierarchy, const std::string& own) {
  if (is_delegated(hierarchy + own)) return own;
  const std::string parent = parent_of(own);
  if (!parent.empty() && is_delegated(hierarchy + parent)) return parent;
  return std::nullopt;
}

// The delegated cgroup's memory controller, enabled for its children. A cgroup with processes in
// it cannot enable controllers for its children (cgroup v2's "no internal processes" rule), so
// the processes there, memvisor alone at start, move to a leaf `main` first.
Status enable_delegated_memory(const std::string& hierarchy, const std::string& delegated,
                               const std::string& own) {
  const std::string dir = hierarchy + delegated;
  auto controllers = read_file(dir + "/cgroup.controllers");
  if (!controllers || !lists_controller(*controllers, "memory")) {
    return Error{"the memory controller is not available in " + delegated, ENOENT};
  }
  if (delegated == own) {
    const std::string leaf = dir + "/main";
    if (::mkdir(leaf.c_str(), 0755) < 0 && errno != EEXIST) return sys_error("create cgroup", leaf);
    auto procs = read_file(dir + "/cgroup.procs");
    if (!procs) return procs.error();
    std::string_view rest = *procs;
    while (!rest.empty()) {
      const size_t end = std::min(rest.find('\n'), rest.size());
      if (end > 0) {
        if (auto moved = write_text(leaf + "/cgroup.procs", rest.substr(0, end)); !moved) {
          return moved.error();
        }
      }
      rest.remove_prefix(std::min(end + 1, rest.size()));
    }
  }
  return write_text(dir + "/cgroup.subtree_control", "+memory");
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
    const auto delegated = find_delegated(hierarchy, base);
    if (!delegated) {
      return Error{"cgroup v2: the memory controller is not enabled for the children of " +
                       (base.empty() ? std::string("/") : base) +
                       " (it needs a delegated cgroup, e.g. systemd's Delegate=yes)",
                   EPERM};
    }
    if (Status enabled = enable_delegated_memory(hierarchy, *delegated, base); !enabled) {
      return Error{"cgroup v2: delegated cgroup " + *delegated + ": " + enabled.error().describe(),
                   enabled.error().errnum};
    }
    base = *delegated;
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

Status InstanceCgroups::write_limit(const std::string& name, const std::string& file,
                                    uint64_t bytes) {
  return write_text(hierarchy_ + cgroup_path(name) + "/" + file, std::to_string(bytes));
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
