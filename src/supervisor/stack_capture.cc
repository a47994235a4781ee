#include "supervisor/stack_capture.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cstdlib>

namespace memvisor {
namespace {

constexpr size_t kMaxStacksOutput = 4 << 20;  // a process with thousands of threads still fits

std::optional<std::string> find_program(const std::string& name, const std::string& path) {
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    const std::string dir = path.substr(start, end - start);
    const std::string candidate = (dir.empty() ? "." : dir) + "/" + name;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
    start = end + 1;
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::vector<std::string>> stack_tool_command(pid_t pid, const std::string& path) {
  if (auto eu_stack = find_program("eu-stack", path)) {
    // -i: inlined frames too; -s: source file and line where debug info has them.
    return std::vector<std::string>{*eu_stack, "-i", "-s", "-p", std::to_string(pid)};
  }
  if (auto gdb = find_program("gdb", path)) {
    return std::vector<std::string>{
        *gdb, "-batch", "-nx", "-p", std::to_string(pid), "-ex", "thread apply all bt"};
  }
  return std::nullopt;
}

namespace {

ChildCommand stack_command(pid_t pid) {
  const char* path_env = ::getenv("PATH");
  auto command =
      stack_tool_command(pid, path_env != nullptr ? path_env : "/usr/local/bin:/usr/bin:/bin");
  if (!command) {
    return {{},
            "no stack tool is installed: install eu-stack (Debian package elfutils) or gdb to get "
            "thread stacks in incident bundles"};
  }
  return {std::move(*command), {}};
}

std::string stack_text(const ChildOutcome& outcome) {
  std::string text;
  if (!outcome.command.empty()) {
    text += fmt::format("# {} ({:.2f} s)\n", outcome.command, outcome.seconds);
  }
  text += outcome.output;
  if (!text.empty() && text.back() != '\n') text += "\n";
  if (outcome.timed_out) {
    text += "# " + outcome.note + "; its output so far is above\n";
  } else if (!outcome.note.empty()) {
    text += (outcome.command.empty() && !outcome.note.starts_with("no stack tool") ? "# no stacks: "
                                                                                   : "# ") +
            outcome.note + "\n";
  }
  return text;
}

}  // namespace

StackCapture::StackCapture(EventLoop& loop, pid_t pid, std::chrono::milliseconds timeout, Done done)
    : child_(
          loop, stack_command(pid), timeout,
          [done = std::move(done)](ChildOutcome outcome) { done(stack_text(outcome)); },
          kMaxStacksOutput) {}

}  // namespace memvisor
