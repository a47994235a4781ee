// Running a CLI11 parser the same way in every subcommand: help to stdout with exit 0, a usage
// error as one line on stderr with exit 2.
#pragma once

#include <CLI/CLI.hpp>
#include <optional>

#include "cli/commands.h"

namespace memvisor {

// Parses `args` (without the program and subcommand names). Returns an exit code when parsing
// ended the command (help, or an error already reported); nullopt to go on.
std::optional<int> parse_cli(CLI::App& app, const Args& args);

// Splits at the first "--": the options before it, and the command line after it, which option
// parsing must never touch.
struct SplitArgs {
  Args options;
  std::vector<std::string> command;
};
SplitArgs split_at_dashes(const Args& args);

// Prints "memvisor: MESSAGE" to stderr (through os/log_sink: JSON under --log-format json, the
// journal's error priority under systemd) and returns `code`.
int fail(int code, const std::string& message);

}  // namespace memvisor
