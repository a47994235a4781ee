// The lines memvisor writes on stderr, formatted: text ("memvisor: web.1: started") or one JSON
// object per line, each optionally with the sd-daemon(3) priority prefix "<N>" journald reads.
// Pure: the time is an argument, the caller decides whether the stream is the journal.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/observe/event.h"
#include "core/time_format.h"

namespace memvisor {

enum class LogFormat { text, json };

// syslog(3) priorities, as sd-daemon(3)'s "<N>" prefixes carry them.
enum class LogLevel : int {
  emergency = 0,
  alert = 1,
  critical = 2,
  error = 3,
  warning = 4,
  notice = 5,
  info = 6,
  debug = 7
};

struct LogStyle {
  LogFormat format = LogFormat::text;
  bool journal = false;  // the stream is journald's: every line starts with "<N>"
};

// "text" or "json"; nullopt for anything else.
std::optional<LogFormat> parse_log_format(std::string_view text);
// "error", "warning", "notice", …: the "level" of a JSON line.
std::string_view level_name(LogLevel level);

// How much an event matters (docs/deploying/systemd.md has the table): failures error, rule
// fires and recycles warning, memvisor's own lifecycle notice, an instance's lifecycle info.
LogLevel event_level(const Event& event);

// True when JOURNAL_STREAM ("DEV:INODE", decimal, as systemd sets it) names the file whose
// fstat(2) gave `device` and `inode`: the stream is connected to the journal.
bool journal_stream_matches(std::string_view journal_stream, uint64_t device, uint64_t inode);

// Each returns whole lines, every one ending in '\n'. A text message with newlines in it becomes
// several lines, each with the prefix, so journald files none of them at the wrong priority.
std::string format_event_line(const Event& event, const LogStyle& style);
std::string format_message_line(LogLevel level, std::string_view message, WallTime time,
                                const LogStyle& style);
// A line a worker wrote on its stdout or stderr, relayed under its label ("web.1"). A line that
// starts with its own sd-daemon prefix keeps that priority in the journal; others are info.
std::string format_output_line(std::string_view source, bool is_stderr, std::string_view line,
                               WallTime time, const LogStyle& style);

}  // namespace memvisor
