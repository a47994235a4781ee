// The kernel's OOM killer and memvisor: its own processes keep a low oom_score_adj (the
// supervisor gets it at spawn, workers get their service's value there), and an instance's
// SIGKILL is named "oom_kill" when the kernel counted an OOM kill for it.
#include <signal.h>

#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "controller/controller.h"
#include "os/log_sink.h"
#include "os/oom.h"

namespace memvisor {

void Controller::apply_own_oom_score_adj() {
  const int wanted = options_.config.supervisor.oom_score_adj;
  if (oom_score_adj_of(::getpid()) == wanted) return;
  if (Status set = set_own_oom_score_adj(wanted); !set && !told_oom_score_adj_) {
    // Lowering it needs CAP_SYS_RESOURCE: an unprivileged memvisor runs with what it inherited,
    // and so does every worker whose service asks for less (raising needs no privilege), which
    // is what an operator can still do.
    told_oom_score_adj_ = true;
    const int kept = oom_score_adj_of(::getpid()).value_or(0);
    log_message(LogLevel::warning,
                fmt::format("cannot set memvisor's oom_score_adj to {} ({}): it keeps {}, and so "
                            "does every worker whose service asks for less; the kernel's OOM "
                            "killer may pick memvisor like any other process. Grant "
                            "CAP_SYS_RESOURCE{}",
                            wanted, set.error().describe(), kept,
                            kept < 1000 ? fmt::format(", or give the services an oom_score_adj "
                                                      "above {}",
                                                      kept)
                                        : std::string()));
  }
}

void Controller::read_kernel_log() {
  if (!kernel_log_) return;
  const MonoTime t = now();
  // Kept for as long as an exit may still be compared with them: the machine's count's baseline
  // is at most about two seconds old. Timed by when they were read (the log is read at least
  // once a second while it matters), since the records' own clock is the kernel's sched_clock.
  std::erase_if(recent_oom_kills_,
                [&](const auto& seen) { return t - seen.second > std::chrono::seconds(5); });
  for (OomKillRecord& kill : kernel_log_->oom_kills()) recent_oom_kills_.emplace_back(kill, t);
}

void Controller::sample_machine_oom_kills(bool force) {
  const MonoTime t = now();
  if (!force && t - machine_oom_kills_read_ < std::chrono::seconds(1)) return;
  read_kernel_log();
  machine_oom_kills_before_ =
      machine_oom_kills_latest_ ? machine_oom_kills_latest_ : machine_oom_kills();
  machine_oom_kills_latest_ = machine_oom_kills();
  machine_oom_kills_read_ = t;
}

std::optional<MonoTime> Controller::next_machine_oom_sample() const {
  const bool needed = std::any_of(instances_.begin(), instances_.end(),
                                  [](const auto& i) { return i->pid != 0 && i->cgroup.empty(); });
  if (!needed) return std::nullopt;
  return machine_oom_kills_read_ + std::chrono::seconds(1);
}

std::optional<std::string> Controller::oom_kill_evidence(const Instance& instance,
                                                         const ExitStatus& status) {
  // The OOM killer sends SIGKILL and nothing else.
  if (!status.signaled || status.signal != SIGKILL) return std::nullopt;
  if (!instance.cgroup.empty() && cgroups_) {
    // Its own cgroup holds only its processes: a rise is theirs. (A kill of a process it forked
    // counts too; the worker then died of SIGKILL all the same, which is near enough.)
    const auto kills = cgroup_oom_kills(cgroups_->hierarchy() + cgroup_path(instance));
    if (kills && *kills > instance.cgroup_oom_kills) {
      return fmt::format("its cgroup {} counted {} OOM kill(s)", instance.cgroup,
                         *kills - instance.cgroup_oom_kills);
    }
    if (kills) return std::nullopt;  // the cgroup says no: trust it over the machine's count
  }
  // No cgroup of its own. The kernel log, where memvisor may read it, names the victim by pid
  // (the OOM killer prints it right after sending SIGKILL, so before this exit is reaped).
  read_kernel_log();
  const pid_t pid = instance.pid;
  for (const auto& [kill, seen] : recent_oom_kills_) {
    if (kill.pid == pid) {
      return fmt::format("the kernel log: Killed process {} ({})", kill.pid, kill.comm);
    }
  }
  // Else the machine's count rose since a reading at least a second old. Two processes
  // SIGKILLed at once, one by the OOM killer, would both be named by the count alone; the
  // kernel log, when it names other victims for every kill counted, clears this one.
  const auto machine = machine_oom_kills();
  const auto before = machine_oom_kills_before_;
  sample_machine_oom_kills(true);  // this kill is accounted for; the next exit needs a new one
  machine_oom_kills_before_ = machine_oom_kills_latest_;
  if (machine && before && *machine > *before) {
    if (kernel_log_ && recent_oom_kills_.size() >= *machine - *before) return std::nullopt;
    return fmt::format("the machine's OOM kill count rose by {} (/proc/vmstat oom_kill)",
                       *machine - *before);
  }
  return std::nullopt;
}

}  // namespace memvisor
