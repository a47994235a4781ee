// The supervisor's checkpoint (STATE_DIR/checkpoint.bin): every judged process's leak-rule state
// and retained series, written atomically after its first sampling round, then every
// kCheckpointPeriod, after a round whose rules decided something (so a restart neither repeats
// nor forgets it) and at a clean exit; read back by the next supervisor, which restores the
// processes that are still the same ones. Without it a supervisor killed during a leak would
// start the detector's history over (minutes of evidence lost per kill). MEMVISOR_CHECKPOINT=off
// turns it off (tests: the negative control), MEMVISOR_CHECKPOINT_PERIOD_MS shortens the period.
#include <dirent.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cstdlib>
#include <string_view>

#include "os/files.h"
#include "os/log_sink.h"
#include "supervisor/supervisor.h"

namespace memvisor {
namespace {

// Bounds the file whatever the fleet: 64 MiB holds 50 processes' full day of 10 s samples many
// times over; a larger fleet keeps fewer of each series' oldest samples (the detectors' states,
// at most about 60 KiB each, are always whole).
constexpr size_t kCheckpointMaxBytes = 64u << 20;
constexpr auto kCheckpointPeriod = std::chrono::seconds(30);

bool checkpoint_disabled() {
  const char* value = std::getenv("MEMVISOR_CHECKPOINT");
  return value != nullptr && (std::string_view(value) == "off" || std::string_view(value) == "0");
}

std::chrono::milliseconds checkpoint_period() {
  if (const char* value = std::getenv("MEMVISOR_CHECKPOINT_PERIOD_MS"); value != nullptr) {
    char* end = nullptr;
    const long ms = std::strtol(value, &end, 10);
    if (end != value && *end == '\0' && ms >= 100) return std::chrono::milliseconds(ms);
  }
  return kCheckpointPeriod;
}

// Temp files of supervisors killed while they wrote (write_file_atomically names them by pid).
void remove_torn_checkpoints(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return;
  while (const dirent* entry = ::readdir(d)) {
    const std::string_view name = entry->d_name;
    if (name.starts_with("checkpoint.bin.tmp.")) ::unlink((dir + "/" + std::string(name)).c_str());
  }
  ::closedir(d);
}

}  // namespace

std::string Supervisor::checkpoint_path() const {
  return options_.state_dir + "/checkpoint.bin";
}

void Supervisor::load_checkpoint() {
  checkpoint_enabled_ = !checkpoint_disabled();
  checkpoint_period_ = checkpoint_period();
  // The first is written after the first sampling round, with what was restored: a supervisor
  // killed before its first period would otherwise leave the old file, and the next one would go
  // back to it, losing what this one added (a campaign of kills a second apart would freeze the
  // history at the last supervisor that lived a whole period).
  next_checkpoint_ = std::chrono::steady_clock::now();
  if (!checkpoint_enabled_) return;
  remove_torn_checkpoints(options_.state_dir);
  auto data = read_file(checkpoint_path());
  if (!data) {
    if (data.error().errnum != ENOENT) {
      log_message(LogLevel::warning, "ignoring the checkpoint: " + data.error().describe());
    }
    return;
  }
  auto entries = decode_checkpoint(*data);
  if (!entries) {
    log_message(LogLevel::warning,
                fmt::format("ignoring the checkpoint {}: {}; the leak rule starts its history over",
                            checkpoint_path(), entries.error().describe()));
    return;
  }
  memory_.restore(std::move(*entries));
}

void Supervisor::report_restore() {
  if (auto outcome = memory_.restore_outcome()) {
    log_message(
        LogLevel::notice,
        fmt::format("checkpoint: restored the rules' history of {} process(es); dropped "
                    "{} (gone, or not the same process){}",
                    outcome->restored, outcome->dropped,
                    outcome->unreadable > 0 ? fmt::format(", {} unreadable", outcome->unreadable)
                                            : std::string()));
  }
}

void Supervisor::write_checkpoint_if_due(bool now) {
  if (!checkpoint_enabled_ || !fleet_.has_snapshot()) return;
  const auto t = std::chrono::steady_clock::now();
  if (!now && t < next_checkpoint_) return;
  next_checkpoint_ = t + checkpoint_period_;
  decided_since_checkpoint_ = false;
  const std::string data = encode_checkpoint(memory_.checkpoint(kCheckpointMaxBytes));
  if (Status written = write_file_atomically(checkpoint_path(), data, 0600); !written) {
    // Said once per cause, not every period: a full disk would fill the log too.
    const std::string why = written.error().describe();
    if (why != checkpoint_error_logged_) {
      log_message(LogLevel::warning, "cannot write the checkpoint: " + why);
      checkpoint_error_logged_ = why;
    }
    return;
  }
  if (!checkpoint_error_logged_.empty()) {
    log_message(LogLevel::notice, "checkpoint written again");
    checkpoint_error_logged_.clear();
  }
  ++checkpoints_written_;
}

}  // namespace memvisor
