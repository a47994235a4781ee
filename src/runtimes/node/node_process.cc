// Reading a Node.js process's signal mask, state and options out of /proc text.
#include "runtimes/node/node_process.h"

#include <charconv>

namespace memvisor::nodejs {
namespace {

// The hex mask of a "Name:\tXXXXXXXXXXXXXXXX" status line.
std::optional<unsigned long long> status_mask(std::string_view status, std::string_view name) {
  size_t at = 0;
  while (at < status.size()) {
    size_t end = status.find('\n', at);
    if (end == std::string_view::npos) end = status.size();
    std::string_view line = status.substr(at, end - at);
    at = end + 1;
    if (line.substr(0, name.size()) != name || line.size() <= name.size() ||
        line[name.size()] != ':')
      continue;
    line.remove_prefix(name.size() + 1);
    while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
    unsigned long long mask = 0;
    auto [ptr, error] = std::from_chars(line.data(), line.data() + line.size(), mask, 16);
    if (error != std::errc()) return std::nullopt;
    return mask;
  }
  return std::nullopt;
}

bool option_named(std::string_view option, std::string_view name) {
  return option == name || (option.substr(0, name.size()) == name && option.size() > name.size() &&
                            option[name.size()] == '=');
}

}  // namespace

std::optional<SignalDisposition> parse_signal_disposition(std::string_view status, int signo) {
  if (signo < 1 || signo > 64) return std::nullopt;
  const auto caught = status_mask(status, "SigCgt");
  const auto ignored = status_mask(status, "SigIgn");
  const auto blocked = status_mask(status, "SigBlk");
  if (!caught || !ignored) return std::nullopt;
  const unsigned long long bit = 1ULL << (signo - 1);
  return SignalDisposition{(*caught & bit) != 0, (*ignored & bit) != 0,
                           blocked && (*blocked & bit) != 0};
}

char parse_process_state(std::string_view status) {
  size_t at = 0;
  while (at < status.size()) {
    size_t end = status.find('\n', at);
    if (end == std::string_view::npos) end = status.size();
    const std::string_view line = status.substr(at, end - at);
    at = end + 1;
    if (line.substr(0, 6) != "State:") continue;
    for (const char c : line.substr(6))
      if (c != ' ' && c != '\t') return c;
  }
  return '?';
}

std::vector<std::string> split_cmdline(std::string_view cmdline) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at < cmdline.size()) {
    size_t end = cmdline.find('\0', at);
    if (end == std::string_view::npos) end = cmdline.size();
    out.emplace_back(cmdline.substr(at, end - at));
    at = end + 1;
  }
  return out;
}

std::vector<std::string> node_options_of(const std::vector<std::string>& argv,
                                         std::string_view node_options_env) {
  std::vector<std::string> out;
  // argv[0] is node; its options run up to the script (the first argument not an option) or "--".
  for (size_t i = 1; i < argv.size(); ++i) {
    if (argv[i] == "--" || argv[i].empty() || argv[i][0] != '-') break;
    out.push_back(argv[i]);
  }
  size_t at = 0;
  while (at < node_options_env.size()) {
    while (at < node_options_env.size() && node_options_env[at] == ' ') ++at;
    const size_t start = at;
    while (at < node_options_env.size() && node_options_env[at] != ' ') ++at;
    if (at > start) out.emplace_back(node_options_env.substr(start, at - start));
  }
  return out;
}

bool inspector_opened_at_start(const std::vector<std::string>& options) {
  for (const std::string& option : options)
    if (option_named(option, "--inspect") || option_named(option, "--inspect-brk") ||
        option_named(option, "--inspect-wait"))
      return true;
  return false;
}

bool inspect_port_set(const std::vector<std::string>& options) {
  for (const std::string& option : options)
    if (option_named(option, "--inspect-port") || option_named(option, "--debug-port")) return true;
  return false;
}

}  // namespace memvisor::nodejs
