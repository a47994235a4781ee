#include "cli/cli_parse.h"

#include <algorithm>
#include <iostream>

#include "os/log_sink.h"

namespace memvisor {

std::optional<int> parse_cli(CLI::App& app, const Args& args) {
  // CLI11 wants the arguments last-first.
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    std::cout << app.help();
    return kExitOk;
  } catch (const CLI::CallForAllHelp&) {
    std::cout << app.help("", CLI::AppFormatMode::All);
    return kExitOk;
  } catch (const CLI::ParseError& error) {
    std::cerr << "memvisor " << app.get_name() << ": " << error.what() << "\n"
              << "Run 'memvisor " << app.get_name() << " --help' for usage.\n";
    return kExitUsage;
  }
  return std::nullopt;
}

SplitArgs split_at_dashes(const Args& args) {
  const auto dashes = std::find(args.begin(), args.end(), "--");
  SplitArgs split{Args(args.begin(), dashes), {}};
  if (dashes != args.end()) split.command.assign(dashes + 1, args.end());
  return split;
}

int fail(int code, const std::string& message) {
  // Through the log layer: under `run --log-format json` a refused config is a JSON line too,
  // and under systemd (ExecStartPre=memvisor check, ExecReload=) the journal files it as an error.
  log_message(LogLevel::error, message);
  return code;
}

}  // namespace memvisor
