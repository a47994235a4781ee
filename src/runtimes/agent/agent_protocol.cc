// The heap agents' protocol lines, and reading a process's command line for why no agent listens.
#include "runtimes/agent/agent_protocol.h"

#include <nlohmann/json.hpp>

#include "core/proc/environ_text.h"

namespace memvisor {
namespace {

// Python's interpreter options before the script, -c or -m: the letters of "-IE", "-X dev".
std::string python_flags(const std::vector<std::string>& argv) {
  std::string flags;
  for (size_t i = 1; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (arg.size() < 2 || arg[0] != '-' || arg == "--" || arg[1] == '-') break;
    bool takes_value = false;
    for (size_t j = 1; j < arg.size(); ++j) {
      const char c = arg[j];
      if (c == 'c' || c == 'm') return flags;  // the program follows
      if (c == 'W' || c == 'X') {
        takes_value = j + 1 == arg.size();  // "-X dev" or "-Xdev"
        break;
      }
      flags += c;
    }
    if (takes_value) ++i;
  }
  return flags;
}

// Ruby's --disable=LIST / --disable-FEATURE options that drop RUBYOPT.
bool ruby_disables_rubyopt(const std::vector<std::string>& argv) {
  for (size_t i = 1; i < argv.size(); ++i) {
    const std::string& arg = argv[i];
    if (arg.empty() || arg[0] != '-' || arg == "--") break;
    std::string list;
    if (arg.rfind("--disable=", 0) == 0)
      list = "," + arg.substr(10) + ",";
    else if (arg.rfind("--disable-", 0) == 0)
      list = "," + arg.substr(10) + ",";
    if (list.find(",rubyopt,") != std::string::npos || list.find(",all,") != std::string::npos)
      return true;
  }
  return false;
}

std::vector<std::string> split_path_list(const std::string& text) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at <= text.size()) {
    const size_t end = std::min(text.find(':', at), text.size());
    if (end > at) out.push_back(text.substr(at, end - at));
    at = end + 1;
  }
  return out;
}

std::string python_reasons(const std::vector<std::string>& argv, std::string_view environ,
                           const std::function<bool(const std::string&)>& has_agent_file) {
  std::string out;
  const std::string flags = python_flags(argv);
  if (flags.find('I') != std::string::npos)
    out +=
        " It runs with -I (isolated mode ignores PYTHONPATH, so memvisor's sitecustomize is "
        "never imported).";
  if (flags.find('E') != std::string::npos)
    out += " It runs with -E (ignores PYTHONPATH, so memvisor's sitecustomize is never imported).";
  if (flags.find('S') != std::string::npos)
    out += " It runs with -S (no site module, so no sitecustomize is imported).";
  const auto pythonpath = environ_value(environ, "PYTHONPATH");
  bool on_path = false;
  for (const std::string& dir : split_path_list(pythonpath.value_or("")))
    on_path = on_path || has_agent_file(dir);
  if (!on_path)
    out += pythonpath ? " Its PYTHONPATH does not hold memvisor's agents/python: the app or a "
                        "wrapper replaced it."
                      : " It has no PYTHONPATH: the app or a wrapper cleared it.";
  if (out.empty())
    out =
        " Likely: it started before heap_sampler was on (restart it), it is not CPython, a "
        "sitecustomize earlier on sys.path shadows memvisor's, or the agent could not create "
        "its socket.";
  return out;
}

std::string ruby_reasons(const std::vector<std::string>& argv, std::string_view environ,
                         const std::function<bool(const std::string&)>& has_agent_file) {
  std::string out;
  if (ruby_disables_rubyopt(argv))
    out += " It runs with --disable=rubyopt (or all), which ignores RUBYOPT and so memvisor's -r.";
  const auto rubyopt = environ_value(environ, "RUBYOPT");
  bool required = false;
  if (rubyopt) {
    const std::string marker = "/memvisor_heap_agent.rb";
    for (size_t at = rubyopt->find("-r"); at != std::string::npos;
         at = rubyopt->find("-r", at + 2)) {
      const size_t end = std::min(rubyopt->find(' ', at), rubyopt->size());
      const std::string file = rubyopt->substr(at + 2, end - at - 2);
      if (file.size() > marker.size() && file.ends_with(marker))
        required = required || has_agent_file(file.substr(0, file.size() - marker.size()));
    }
  }
  if (!required)
    out += rubyopt ? " Its RUBYOPT does not -r memvisor's agent: the app or a wrapper replaced it."
                   : " It has no RUBYOPT: the app or a wrapper cleared it.";
  if (out.empty())
    out =
        " Likely: it started before heap_sampler was on (restart it), it is not CRuby, it was "
        "daemonized (Process.daemon skips the agent's fork hook), or the agent could not write "
        "its marker.";
  return out;
}

}  // namespace

std::string agent_socket_path(const std::string& dir, int pid) {
  return dir + "/" + std::to_string(pid) + ".agent";
}

std::string agent_request_line(Millis duration, int frames, uint64_t interval_bytes) {
  const nlohmann::json request = {{"protocol", kAgentProtocol},
                                  {"duration_ms", duration.count()},
                                  {"frames", frames},
                                  {"interval_bytes", interval_bytes}};
  return request.dump() + "\n";
}

Result<AgentReply> parse_agent_reply(std::string_view line) {
  const nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
  if (j.is_discarded() || !j.is_object()) return Error{"the agent's reply is not a JSON object", 0};
  const auto state = j.find("state");
  if (state == j.end() || !state->is_string())
    return Error{"the agent's reply has no \"state\"", 0};
  AgentReply reply;
  const std::string name = state->get<std::string>();
  if (name == "recording") {
    reply.state = AgentReply::State::recording;
  } else if (name == "error") {
    reply.state = AgentReply::State::error;
    const auto error = j.find("error");
    reply.error =
        error != j.end() && error->is_string() ? error->get<std::string>() : "no reason given";
    if (reply.error.size() > 4096) reply.error.resize(4096);
  } else if (name == "done") {
    reply.state = AgentReply::State::done;
    const auto profile = j.find("profile");
    if (profile == j.end()) return Error{"the agent's reply has no \"profile\"", 0};
    auto parsed = runtime_profile_from_json(*profile);
    if (!parsed) return Error{"the agent's " + parsed.error().message, 0};
    reply.profile = std::move(*parsed);
  } else {
    return Error{"the agent's reply has an unknown state \"" + name.substr(0, 64) + "\"", 0};
  }
  return reply;
}

std::string agent_absent_reasons(RuntimeKind kind, const std::vector<std::string>& argv,
                                 std::string_view environ,
                                 const std::function<bool(const std::string&)>& has_agent_file) {
  if (kind == RuntimeKind::ruby) return ruby_reasons(argv, environ, has_agent_file);
  return python_reasons(argv, environ, has_agent_file);
}

}  // namespace memvisor
