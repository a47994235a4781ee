// Where every line memvisor writes about itself goes: its stderr (relayed worker stdout: its
// stdout), formatted by core/observe/log_line in the format `--log-format` chose, with journald's
// "<N>" priority prefix on a stream that JOURNAL_STREAM says is the journal.
#pragma once

#include <string_view>

#include "core/observe/event.h"
#include "core/observe/log_line.h"
#include "core/observe/write_outage.h"
#include "core/result.h"

namespace memvisor {

// The format for the rest of the process's life (text until called).
void set_log_format(LogFormat format);
LogFormat log_format();

// "memvisor: MESSAGE" in text, {"ts","level","message"} in json.
void log_message(LogLevel level, std::string_view message);
// A write's outcome recorded in `outage`: the message when it starts an outage (error) or ends
// one (notice), nothing in between, so a full disk is told once, not at every line.
void log_write_outcome(WriteOutage& outage, const Status& written);
// A lifecycle event or a rule's decision: the human line, or every field as JSON.
void log_event_line(const Event& event);
// One line of a worker's output, under its label ("web.1"), to the same stream it came from.
void log_worker_line(std::string_view source, bool is_stderr, std::string_view line);

}  // namespace memvisor
