// `memvisor incidents [list | show ID]`: the incident bundles of a running memvisor.
#include <iostream>

#include "cli/cli_parse.h"
#include "cli/commands.h"
#include "cli/control_client.h"
#include "cli/state_dir.h"
#include "core/text_table.h"
#include "core/units.h"

namespace memvisor {
namespace {

std::string short_time(const std::string& ts) {
  // "2026-11-22T19:30:12.250Z" → "2026-11-22 19:30:12"
  if (ts.size() < 19) return ts.empty() ? "-" : ts;
  std::string out = ts.substr(0, 19);
  out[10] = ' ';
  return out;
}

std::string render_list(const nlohmann::json& incidents) {
  if (incidents.empty()) return "no incidents\n";
  TextTable table({"ID", "TIME (UTC)", "INSTANCE", "RULE", "SIZE"});
  for (const auto& i : incidents) {
    const std::string instance = i.value("instance", "");
    const std::string trigger = i.value("trigger", "");
    table.add_row({i.value("id", "?"), short_time(i.value("ts", "")),
                   instance.empty() ? "-" : instance, trigger.empty() ? "-" : trigger,
                   format_size(i.value("bytes", uint64_t{0}))});
  }
  return table.render();
}

std::string render_show(const nlohmann::json& reply) {
  std::string out = reply.value("summary", "");
  if (!out.empty() && out.back() != '\n') out += "\n";
  out += "\n" + reply.value("path", "") + ":\n";
  TextTable table({"FILE", "SIZE"});
  for (const auto& file : reply.value("files", nlohmann::json::array())) {
    table.add_row({file.value("name", "?"), format_size(file.value("bytes", uint64_t{0}))});
  }
  return out + table.render();
}

}  // namespace

int incidents_command(const Args& args) {
  CLI::App app("List the incident bundles of a running memvisor, or show one.", "incidents");
  std::vector<std::string> words;
  std::string state_dir_flag;
  bool json = false;
  app.add_option("action", words, "list (the default), or show ID");
  app.add_option("--state-dir", state_dir_flag, "the state dir of the memvisor to ask");
  app.add_flag("--json", json, "print the reply as JSON");
  if (auto done = parse_cli(app, args)) return *done;

  nlohmann::json request;
  if (words.empty() || (words.size() == 1 && words[0] == "list")) {
    request = {{"id", 1}, {"cmd", "incidents"}};
  } else if (words.size() == 2 && words[0] == "show") {
    request = {{"id", 1}, {"cmd", "incident"}, {"incident", words[1]}};
  } else {
    return fail(kExitUsage, "usage: memvisor incidents [list | show ID]");
  }
  auto reply = control_request(resolve_state_dir(state_dir_flag), request);
  if (!reply) return fail(kExitFailure, reply.error().describe());
  if (!reply->value("ok", false)) {
    const std::string code = reply->value("code", "");
    return fail(code == "not_found" ? kExitUsage : kExitFailure,
                reply->value("error", "request failed"));
  }
  if (json) {
    reply->erase("ok");
    reply->erase("id");
    std::cout << (request["cmd"] == "incidents" ? (*reply)["incidents"].dump(2) : reply->dump(2))
              << "\n";
  } else if (request["cmd"] == "incidents") {
    std::cout << render_list((*reply)["incidents"]);
  } else {
    std::cout << render_show(*reply);
  }
  return kExitOk;
}

}  // namespace memvisor
