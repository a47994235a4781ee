// memvisor: a memory-aware process supervisor. main reads like a table of subcommands.
#include <iostream>
#include <string_view>

#include "cli/commands.h"

namespace {

struct Subcommand {
  const char* name;
  int (*run)(const memvisor::Args&);
  const char* summary;  // nullptr: internal, not listed
};

constexpr Subcommand kSubcommands[] = {
    {"run", memvisor::run_command, "run a pool of workers from CONFIG.toml or from -- CMD ARGS..."},
    {"check", memvisor::check_command, "validate CONFIG.toml and print a one-line summary"},
    {"status", memvisor::status_command, "show every instance of a running memvisor"},
    {"restart", memvisor::restart_command, "restart SERVICE or SERVICE.N gracefully"},
    {"stop", memvisor::stop_command, "stop SERVICE or SERVICE.N (until start)"},
    {"start", memvisor::start_command, "start SERVICE or SERVICE.N again"},
    {"reload", memvisor::reload_command, "read the config file again and apply what changed"},
    {"dump", memvisor::dump_command, "write an incident bundle of SERVICE.N now (it runs on)"},
    {"top", memvisor::top_command, "a live view of every instance: memory, trend, events"},
    {"incidents", memvisor::incidents_command, "list incident bundles, or show one: show ID"},
    {"events", memvisor::events_command, "print the events log; --follow for new ones"},
    {"record", memvisor::record_command, "write a process's memory as CSV (t_s,rss,pss,uss,swap)"},
    {"replay", memvisor::replay_command, "run the memory rules on a recorded trace"},
    {"watch", memvisor::watch_command, "guard one process: warn, and kill at critical"},
    {"sample", memvisor::sample_command, "heap sample of an instance: what is allocated, retained"},
    {"supervise", memvisor::supervise_command, nullptr},
};

void usage(std::ostream& out) {
  out << "memvisor: a memory-aware process supervisor\n\n"
         "Usage: memvisor SUBCOMMAND [OPTIONS]\n\nSubcommands:\n";
  for (const Subcommand& sub : kSubcommands) {
    if (sub.summary != nullptr)
      out << "  " << sub.name << std::string(10 - std::string_view(sub.name).size(), ' ')
          << sub.summary << "\n";
  }
  out << "\nRun 'memvisor SUBCOMMAND --help' for the options of each.\n";
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    usage(std::cerr);
    return memvisor::kExitUsage;
  }
  const std::string_view name = argv[1];
  if (name == "--help" || name == "-h" || name == "help") {
    usage(std::cout);
    return memvisor::kExitOk;
  }
  if (name == "--version" || name == "version") {
    std::cout << "memvisor " << MEMVISOR_VERSION << "\n";
    return memvisor::kExitOk;
  }
  for (const Subcommand& sub : kSubcommands) {
    if (name == sub.name) return sub.run(memvisor::Args(argv + 2, argv + argc));
  }
  std::cerr << "memvisor: unknown subcommand '" << name << "'\n\n";
  usage(std::cerr);
  return memvisor::kExitUsage;
}
