// Recognising the OOM killer's victim in a kernel log record (kernel_log.h). The kernel prints
// "Killed process" in __oom_kill_process and the "oom-kill:" summary in dump_oom_summary
// (mm/oom_kill.c); the first is not rate-limited, the second comes with the rate-limited header.
#include "core/proc/kernel_log.h"

#include <charconv>

namespace memvisor {
namespace {

// A positive pid at the start of `text`, with how many characters it took; nullopt otherwise.
std::optional<std::pair<int, size_t>> leading_pid(std::string_view text) {
  int pid = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), pid);
  if (error != std::errc() || pid <= 0) return std::nullopt;
  return std::pair{pid, static_cast<size_t>(end - text.data())};
}

// The message of a record: after the first ';' of its prefix, up to its first newline (the
// continuation lines are key=value context, not the message).
std::string_view message_of(std::string_view record) {
  const size_t semicolon = record.find(';');
  if (semicolon != std::string_view::npos) record.remove_prefix(semicolon + 1);
  const size_t newline = record.find('\n');
  if (newline != std::string_view::npos) record = record.substr(0, newline);
  return record;
}

std::optional<OomKillRecord> killed_process(std::string_view message) {
  constexpr std::string_view kKilled = "Killed process ";
  const size_t at = message.find(kKilled);
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view rest = message.substr(at + kKilled.size());
  const auto pid = leading_pid(rest);
  if (!pid) return std::nullopt;
  rest.remove_prefix(pid->second);
  OomKillRecord record{pid->first, ""};
  // " (COMM) total-vm:...": a command name may itself hold ") ", so it ends where the numbers
  // the kernel prints after it begin (or at the record's last ')' when they are missing).
  if (rest.starts_with(" (")) {
    rest.remove_prefix(2);
    size_t close = rest.find(") total-vm:");
    if (close == std::string_view::npos && rest.ends_with(')')) close = rest.size() - 1;
    if (close == std::string_view::npos) close = rest.find(") ");
    if (close != std::string_view::npos) record.comm = std::string(rest.substr(0, close));
  }
  return record;
}

std::optional<OomKillRecord> summary(std::string_view message) {
  constexpr std::string_view kSummary = "oom-kill:";
  const size_t at = message.find(kSummary);
  if (at == std::string_view::npos) return std::nullopt;
  const std::string_view fields = message.substr(at + kSummary.size());
  OomKillRecord record;
  // The task's name comes before its pid and may hold commas: pid is found from the end.
  const size_t pid_at = fields.rfind(",pid=");
  if (pid_at == std::string_view::npos) return std::nullopt;
  const auto pid = leading_pid(fields.substr(pid_at + 5));
  if (!pid) return std::nullopt;
  record.pid = pid->first;
  const size_t task_at = fields.find(",task=");
  if (task_at != std::string_view::npos && task_at + 6 <= pid_at)
    record.comm = std::string(fields.substr(task_at + 6, pid_at - task_at - 6));
  return record;
}

// The record's prefix "PRIO,SEQ,USEC,...": the facility (PRIO / 8) and the time.
struct RecordPrefix {
  uint64_t facility = 0;
  uint64_t usec = 0;
};
std::optional<RecordPrefix> prefix_of(std::string_view record) {
  const size_t semicolon = record.find(';');
  if (semicolon == std::string_view::npos) return std::nullopt;
  std::string_view prefix = record.substr(0, semicolon);
  uint64_t fields[3] = {};
  for (uint64_t& field : fields) {
    const auto [end, error] = std::from_chars(prefix.data(), prefix.data() + prefix.size(), field);
    if (error != std::errc()) return std::nullopt;
    prefix.remove_prefix(static_cast<size_t>(end - prefix.data()));
    if (!prefix.empty() && prefix[0] == ',') prefix.remove_prefix(1);
  }
  return RecordPrefix{fields[0] >> 3, fields[2]};
}

}  // namespace

std::optional<OomKillRecord> parse_oom_kill_record(std::string_view record) {
  // Only the kernel's own records (facility 0): the kernel files every record a process writes
  // into /dev/kmsg under another facility, so no process can name a victim.
  const auto prefix = prefix_of(record);
  if (!prefix || prefix->facility != 0) return std::nullopt;
  const std::string_view message = message_of(record);
  auto killed = killed_process(message);
  if (!killed) killed = summary(message);
  if (killed) killed->usec = prefix->usec;
  return killed;
}

}  // namespace memvisor
