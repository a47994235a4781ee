// A worker's stdout and stderr, relayed line by line with its label in front: "web.1 | ...".
#include <unistd.h>

#include "controller/controller.h"
#include "os/unix_stream.h"

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
  const std::string prefix = instance.label() + " | ";
  const int target = pipe.is_stderr ? STDERR_FILENO : STDOUT_FILENO;
  auto sink = [&](std::string_view line) {
    std::string out;
    out.reserve(prefix.size() + line.size() + 1);
    out.append(prefix).append(line).push_back('\n');
    (void)write_all(target, out);
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
