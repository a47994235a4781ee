// A worker's stdout and stderr, relayed line by line with its label in front: "web.1 | ..." (or
// as JSON, see os/log_sink), each to the stream it came from; with output = "file", to its
// SERVICE.N.log instead, which rotates by size (log_max_size, log_keep).
#include <unistd.h>

#include "controller/controller.h"
#include "os/log_sink.h"

namespace memvisor {

void Controller::watch_output(Instance& instance, OutputPipe& pipe) {
  Instance* target = &instance;
  OutputPipe* source = &pipe;
  (void)loop_->add(pipe.fd.get(), EPOLLIN,
                   [this, target, source](uint32_t) { on_output(*target, *source); });
}

void Controller::on_output(Instance& instance, OutputPipe& pipe) {
  char buffer[64 * 1024];
  const ssize_t n = ::read(pipe.fd.get(), buffer, sizeof buffer);
  if (n < 0 && (errno == EAGAIN || errno == EINTR)) return;
  const std::string label = instance.label();
  auto sink = [&](std::string_view line) {
    if (!pipe.file) {
      log_worker_line(label, pipe.is_stderr, line);
      return;
    }
    // The service's limits as they are now: a reload applies to the next line.
    pipe.file->set_rotation({instance.service->log_max_size, instance.service->log_keep});
    if (!pipe.file_outage) pipe.file_outage.emplace(label + ".log", "lines");
    log_write_outcome(*pipe.file_outage, pipe.file->append_line(line));
  };
  if (n <= 0) {  // end of stream: every writer (the worker and its children) is gone
    pipe.lines.flush(sink);
    close_output(instance, pipe);
    return;
  }
  pipe.lines.feed(std::string_view(buffer, static_cast<size_t>(n)), sink);
}

void Controller::close_output(Instance& /*instance*/, OutputPipe& pipe) {
  if (!pipe.fd.valid()) return;
  loop_->remove(pipe.fd.get());
  pipe.fd.reset();
}

}  // namespace memvisor
