#pragma once
// The subcommands of the tfm binary. Each file of tools/commands/ defines one
// and registers it with TFM_REGISTER_COMMAND: its setup adds the subcommand and
// its options to the app and returns what runs it once the command line is
// parsed (the exit code). main.cpp only parses and dispatches, so a new command
// is a new file. These files are compiled into the tfm executable itself, not a
// library, so the linker keeps every registration.
#include <CLI/CLI.hpp>

#include <functional>
#include <vector>

namespace tfm::cli {

using CommandRun = std::function<int()>;
using CommandSetup = CommandRun (*)(CLI::App& app);

struct Command {
  const char* name;
  int order;  // position in `tfm --help`
  CommandSetup setup;
};

bool register_command(const Command& command);
std::vector<Command> registered_commands();  // sorted by order

}  // namespace tfm::cli

#define TFM_CLI_CONCAT2(a, b) a##b
#define TFM_CLI_CONCAT(a, b) TFM_CLI_CONCAT2(a, b)
#define TFM_REGISTER_COMMAND(name, order, setup) \
  [[maybe_unused]] static const bool TFM_CLI_CONCAT(tfm_command_, __LINE__) =     \
      ::tfm::cli::register_command({name, order, setup})
