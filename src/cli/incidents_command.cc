// `memvisor incidents [list | show ID]`: the incident bundles in STATE_DIR/incidents, read from
// disk with the supervisor's own listing, so they are there after memvisor stopped (the
// post-mortem) or while its supervisor restarts, not only through a running memvisor.
#include <unistd.h>

#include <iostream>

#include "cli/cli_parse.h"
#include "cli/commands.h"
#include "cli/state_dir.h"
#include "core/text_table.h"
#include "core/units.h"
#include "supervisor/incident_store.h"

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
  CLI::App app("List the incident bundles in the state dir (memvisor running or not), or show one.",
               "incidents");
  std::vector<std::string> words;
  std::string state_dir_flag;
  bool json = false;
  app.add_option("action", words, "list (the default), or show ID");
  app.add_option("--state-dir", state_dir_flag, "the state dir whose incidents to read");
  app.add_flag("--json", json, "print the reply as JSON");
  if (auto done = parse_cli(app, args)) return *done;

  const bool list = words.empty() || (words.size() == 1 && words[0] == "list");
  if (!list && !(words.size() == 2 && words[0] == "show"))
    return fail(kExitUsage, "usage: memvisor incidents [list | show ID]");
  const std::string state_dir = resolve_state_dir(state_dir_flag);
  if (::access(state_dir.c_str(), F_OK) != 0)
    return fail(kExitFailure, "no state dir " + state_dir + " (name memvisor's with --state-dir)");
  const std::string dir = state_dir + "/incidents";
  if (list) {
    const nlohmann::json incidents = incidents_json(dir);
    std::cout << (json ? incidents.dump(2) + "\n" : render_list(incidents));
    return kExitOk;
  }
  auto shown = show_incident(dir, words[1]);
  if (!shown) return fail(kExitUsage, shown.error().describe());
  std::cout << (json ? shown->dump(2) + "\n" : render_show(*shown));
  return kExitOk;
}

}  // namespace memvisor
