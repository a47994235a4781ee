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

// Prints "memvisor: MESSAGE" to stderr and returns `code`.
int fail(int code, const std::string& message);

}  // namespace memvisor
