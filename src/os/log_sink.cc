#include "os/log_sink.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>

#include "os/unix_stream.h"

namespace memvisor {
namespace {

std::atomic<LogFormat> g_log_format{LogFormat::text};

bool fd_is_journal(int fd) {
  const char* stream = std::getenv("JOURNAL_STREAM");
  if (stream == nullptr) return false;
  struct stat st {};
  if (::fstat(fd, &st) != 0) return false;
  return journal_stream_matches(stream, static_cast<uint64_t>(st.st_dev),
                                static_cast<uint64_t>(st.st_ino));
}

// Looked at once: the streams do not change under a running process. Thread-safe (the HTTP
// thread of the supervisor may log).
bool stream_is_journal(int fd) {
  static const bool stdout_journal = fd_is_journal(STDOUT_FILENO);
  static const bool stderr_journal = fd_is_journal(STDERR_FILENO);
  return fd == STDERR_FILENO ? stderr_journal : stdout_journal;
}

LogStyle style_for(int fd) {
  return LogStyle{g_log_format.load(std::memory_order_relaxed), stream_is_journal(fd)};
}

// One write(2) per line: lines from the controller, the supervisor and the relay, which share
// the stream, never interleave mid-line.
void write_out(int fd, const std::string& text) {
  (void)write_all(fd, text);
}

}  // namespace

void set_log_format(LogFormat format) {
  g_log_format.store(format, std::memory_order_relaxed);
}

LogFormat log_format() {
  return g_log_format.load(std::memory_order_relaxed);
}

void log_message(LogLevel level, std::string_view message) {
  write_out(STDERR_FILENO, format_message_line(level, message, std::chrono::system_clock::now(),
                                               style_for(STDERR_FILENO)));
}

void log_write_outcome(WriteOutage& outage, const Status& written) {
  if (auto message = outage.record(written)) {
    log_message(written ? LogLevel::notice : LogLevel::error, *message);
  }
}

void log_event_line(const Event& event) {
  write_out(STDERR_FILENO, format_event_line(event, style_for(STDERR_FILENO)));
}

void log_worker_line(std::string_view source, bool is_stderr, std::string_view line) {
  const int fd = is_stderr ? STDERR_FILENO : STDOUT_FILENO;
  write_out(fd, format_output_line(source, is_stderr, line, std::chrono::system_clock::now(),
                                   style_for(fd)));
}

}  // namespace memvisor
