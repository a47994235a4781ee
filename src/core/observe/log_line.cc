#include "core/observe/log_line.h"

#include <charconv>

namespace memvisor {
namespace {

// Worker output may be any bytes: invalid UTF-8 becomes U+FFFD rather than an exception.
std::string dump_json(const nlohmann::ordered_json& json) {
  return json.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

// `text` as lines, each with the journal's "<N>" in front when the stream is the journal.
std::string with_prefix(std::string_view text, LogLevel level, bool journal) {
  if (!journal) return std::string(text) + "\n";
  const std::string prefix = "<" + std::to_string(static_cast<int>(level)) + ">";
  std::string out;
  for (;;) {
    const size_t end = text.find('\n');
    out.append(prefix).append(text.substr(0, end)).push_back('\n');
    if (end == std::string_view::npos) return out;
    text.remove_prefix(end + 1);
  }
}

bool parse_decimal(std::string_view text, uint64_t& value) {
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  return ec == std::errc() && ptr == end && !text.empty();
}

}  // namespace

std::optional<LogFormat> parse_log_format(std::string_view text) {
  if (text == "text") return LogFormat::text;
  if (text == "json") return LogFormat::json;
  return std::nullopt;
}

std::string_view level_name(LogLevel level) {
  switch (level) {
    case LogLevel::emergency:
      return "emergency";
    case LogLevel::alert:
      return "alert";
    case LogLevel::critical:
      return "critical";
    case LogLevel::error:
      return "error";
    case LogLevel::warning:
      return "warning";
    case LogLevel::notice:
      return "notice";
    case LogLevel::info:
      return "info";
    case LogLevel::debug:
      return "debug";
  }
  return "info";
}

LogLevel event_level(const Event& event) {
  const std::string& name = event.event;
  if (name == "rule") {
    const auto action = event.extra.find("action");
    const bool critical = action != event.extra.end() && *action == "critical";
    return critical ? LogLevel::error : LogLevel::warning;
  }
  if (name == "exited") {
    if (event.reason == "crash" || event.reason == "oom_kill") return LogLevel::error;
    // Exited with code 0 while nobody asked it to stop: a restart follows, worth a look.
    return event.reason == "exit" ? LogLevel::notice : LogLevel::info;
  }
  if (name == "supervisor_exited")
    return event.reason == "shutdown" ? LogLevel::info : LogLevel::error;
  if (name == "incident")  // written with a rule's fire; not written at all is an error
    return event.extra.contains("path") ? LogLevel::warning : LogLevel::error;
  if (name == "heap_sample")
    return event.extra.value("state", "") == "none" ? LogLevel::warning : LogLevel::info;
  for (std::string_view failure :
       {"spawn_failed", "circuit_open", "recycle_failed", "startup_timeout", "watchdog_timeout",
        "reload_failed", "supervisor_hung", "listen_lost"}) {
    if (name == failure) return LogLevel::error;
  }
  for (std::string_view warning : {"recycle", "recycle_queued", "backoff", "stop_escalated",
                                   "circuit_half_open", "listen_restored"}) {
    if (name == warning) return LogLevel::warning;
  }
  for (std::string_view notice : {"memvisor_started", "memvisor_stopping", "memvisor_stopped",
                                  "supervisor_started", "listening", "recycled", "retired",
                                  "circuit_closed", "worker_stopping", "reload", "reloaded"}) {
    if (name == notice) return LogLevel::notice;
  }
  return LogLevel::info;  // started, ready, stopping, stopped, restart, and anything new
}

bool journal_stream_matches(std::string_view journal_stream, uint64_t device, uint64_t inode) {
  const size_t colon = journal_stream.find(':');
  if (colon == std::string_view::npos) return false;
  uint64_t want_device = 0;
  uint64_t want_inode = 0;
  return parse_decimal(journal_stream.substr(0, colon), want_device) &&
         parse_decimal(journal_stream.substr(colon + 1), want_inode) && want_device == device &&
         want_inode == inode;
}

std::string format_event_line(const Event& event, const LogStyle& style) {
  const LogLevel level = event_level(event);
  if (style.format == LogFormat::text) {
    return with_prefix("memvisor: " + human_line(event), level, style.journal);
  }
  nlohmann::ordered_json json = {{"ts", format_rfc3339(event.ts)}, {"level", level_name(level)},
                                 {"event", event.event},           {"service", event.service},
                                 {"instance", event.instance},     {"pid", event.pid},
                                 {"reason", event.reason}};
  if (!event.message.empty()) json["message"] = event.message;
  for (const auto& [key, value] : event.extra.items()) {
    if (!json.contains(key)) json[key] = value;
  }
  return with_prefix(dump_json(json), level, style.journal);
}

std::string format_message_line(LogLevel level, std::string_view message, WallTime time,
                                const LogStyle& style) {
  if (style.format == LogFormat::text) {
    return with_prefix("memvisor: " + std::string(message), level, style.journal);
  }
  const nlohmann::ordered_json json = {
      {"ts", format_rfc3339(time)}, {"level", level_name(level)}, {"message", message}};
  return with_prefix(dump_json(json), level, style.journal);
}

std::string format_output_line(std::string_view source, bool is_stderr, std::string_view line,
                               WallTime time, const LogStyle& style) {
  LogLevel level = LogLevel::info;
  if (style.format == LogFormat::json) {
    const nlohmann::ordered_json json = {{"ts", format_rfc3339(time)},
                                         {"source", source},
                                         {"stream", is_stderr ? "stderr" : "stdout"},
                                         {"line", line}};
    return with_prefix(dump_json(json), level, style.journal);
  }
  // A worker that speaks sd-daemon itself ("<3>disk full") keeps its priority under journald.
  if (style.journal && line.size() >= 3 && line[0] == '<' && line[1] >= '0' && line[1] <= '7' &&
      line[2] == '>') {
    level = static_cast<LogLevel>(line[1] - '0');
    line.remove_prefix(3);
  }
  std::string text;
  text.reserve(source.size() + 3 + line.size());
  text.append(source).append(" | ").append(line);
  return with_prefix(text, level, style.journal);
}

}  // namespace memvisor
