// cgroup = true: each process of such a service runs in a memory cgroup of its own,
// SERVICE.N.GEN under memvisor.PID, joined by the child before exec and removed once it is
// reaped. Where no memory cgroup can be made, those services run without one (said once).
#include <fmt/format.h>

#include "controller/controller.h"
#include "core/rules/kernel_thresholds.h"
#include "os/log_sink.h"
#include "os/oom.h"

namespace memvisor {

void Controller::open_instance_cgroups() {
  std::string wanted;
  for (const ServiceConfig& service : options_.config.services) {
    if (service.cgroup) wanted += (wanted.empty() ? "" : ", ") + service.name;
  }
  if (wanted.empty()) return;
  auto cgroups = InstanceCgroups::create(options_.cgroup_root, options_.proc_root);
  if (!cgroups) {
    log_message(LogLevel::warning,
                fmt::format("cgroup = true ({}): cannot make memory cgroups for instances: {}; "
                            "those services run without cgroups of their own",
                            wanted, cgroups.error().describe()));
    return;
  }
  cgroups_.emplace(std::move(*cgroups));
}

Status Controller::prepare_cgroup(Instance& instance, SpawnSpec& spec, UniqueFd& procs) {
  if (!instance.service->cgroup || !cgroups_) return {};
  // The generation this spawn will have: a surge replacement is its own process, its own cgroup.
  const std::string name =
      fmt::format("{}.{}.{}", instance.service->name, instance.number, instance.generation + 1);
  auto opened = cgroups_->make(name);
  if (!opened) return opened.error();
  procs = std::move(*opened);
  // memory_max: in place before the worker runs, so the kernel contains it from its first page,
  // whatever becomes of the supervisor. A limit that cannot be written leaves the worker running
  // without it (said each time: the operator asked for a backstop that is not there).
  const bool v2 = cgroups_->version() == CgroupVersion::kV2;
  for (const CgroupWrite& write : cgroup_limit_writes(*instance.service, v2)) {
    if (Status written = cgroups_->write_limit(name, write.file, write.bytes); !written) {
      log_message(LogLevel::warning,
                  fmt::format("{}: cannot set {} to {} in cgroup {}: {}", instance.service->name,
                              write.file, write.bytes, name, written.error().describe()));
    }
  }
  spec.cgroup_procs_fd = procs.get();
  spec.cgroup = cgroups_->cgroup_path(name);
  instance.cgroup = name;
  instance.cgroup_oom_kills = cgroup_oom_kills(cgroups_->hierarchy() + spec.cgroup).value_or(0);
  return {};
}

void Controller::release_cgroup(Instance& instance) {
  if (instance.cgroup.empty() || !cgroups_) return;
  cgroups_->remove(instance.cgroup);
  instance.cgroup.clear();
}

std::string Controller::cgroup_path(const Instance& instance) const {
  if (instance.cgroup.empty() || !cgroups_) return "";
  return cgroups_->cgroup_path(instance.cgroup);
}

}  // namespace memvisor
